"""THE inner loop: one step for all tasks at once, written once for every algorithm.

    theta'_i = rule(theta, grad_theta L_i(theta; D_train_i), L_i)        for i = 1..N, batched

What an algorithm chooses is the update rule (update_rules.py): MAML a fixed step, Meta-SGD a
learned step per parameter, meta-lstm a learned LSTM rule; Reptile uses the fixed step without a
graph. The loss is the batch's: REINFORCE on RL episodes, the family's supervised loss on
few-shot examples. Per-task gradients come from one backward pass: the shared parameters are
expanded to [N, ...] views and the per-task losses summed, so that
d(sum_j L_j)/d theta_i = dL_i/d theta_i.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from metarl.baseline import estimate_advantages
from metarl.config import InnerConfig
from metarl.episodes import Episodes
from metarl.policy import MLPPolicy, Params, expand_params, is_per_task
from metarl.sampler import Sampler
from metarl.supervised import Examples, ExampleSampler
from metarl.timing import Timer
from metarl.update_rules import RuleState, UpdateRule

Batch = Episodes | Examples


def pg_loss(policy: MLPPolicy, params: Params, episodes: Episodes) -> torch.Tensor:
    """REINFORCE loss per task, L_i = -sum_t,e m A log pi(a|s) / sum_t,e m: shape [N].

    `params` are shared or per task ([N, ...]); `episodes.advantages` must be set.
    """
    if episodes.advantages is None:
        raise ValueError("episodes.advantages is None: call estimate_advantages() first")
    obs = episodes.by_task(episodes.observations)
    actions = episodes.by_task(episodes.actions)
    weights = episodes.by_task(episodes.advantages * episodes.mask)
    count = episodes.by_task(episodes.mask).sum(1).clamp(min=1)
    log_prob = policy.log_prob(params, obs, actions)  # [N, T*E]
    return -(log_prob * weights).sum(1) / count


def inner_loss(policy: MLPPolicy, params: Params, batch: Batch) -> torch.Tensor:
    """The per-task inner loss [N]: REINFORCE on episodes, the family's loss on examples."""
    if isinstance(batch, Examples):
        return batch.losses(policy.mlp(params, batch.inputs))
    return pg_loss(policy, params, batch)


def adapt_step(
    policy: MLPPolicy,
    params: Params,
    rule: UpdateRule,
    batch: Batch,
    first_order: bool = False,
    state: RuleState = None,
) -> tuple[Params, RuleState]:
    """One inner step for all N tasks; returns per-task params [N, ...] and the rule's state.

    - params that require grad (the meta-parameters, or an earlier step's output) keep the graph
      to them and to the rule's parameters: second-order by default; `first_order=True` treats
      the inner gradient (and loss) as constants.
    - params that do not require grad give a result with no graph at all (sampling, Reptile).
    """
    track = any(p.requires_grad for p in params.values())
    if not is_per_task(params):
        params = expand_params(params, batch.num_tasks)
    if not track:
        params = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
        rule = rule.detached()
    losses, grads = inner_loss_and_gradients(
        policy, params, batch, create_graph=track and not first_order
    )
    if not track or first_order:
        losses = losses.detach()
    if track:
        return rule.step(params, grads, losses, state)
    with torch.no_grad():
        adapted, state = rule.step(params, grads, losses, state)
    # detach: a parameter the rule leaves unchanged (inner.frozen) is the leaf made above
    return {k: v.detach() for k, v in adapted.items()}, state


def adapt(
    policy: MLPPolicy,
    params: Params,
    rule: UpdateRule,
    batch: Batch,
    first_order: bool = False,
) -> Params:
    """One inner step from the rule's initial state (see adapt_step)."""
    return adapt_step(policy, params, rule, batch, first_order)[0]


def inner_loss_and_gradients(
    policy: MLPPolicy, params: Params, batch: Batch, create_graph: bool
) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
    """The per-task inner losses [N] and their gradients, one per entry of the per-task
    `params`: the gradient of sum_i L_i, since L_i depends on slice i only."""
    with torch.enable_grad():
        losses = inner_loss(policy, params, batch)
        grads = torch.autograd.grad(losses.sum(), list(params.values()), create_graph=create_graph)
    return losses, grads


def inner_gradients(
    policy: MLPPolicy, params: Params, batch: Batch, create_graph: bool
) -> tuple[torch.Tensor, ...]:
    """The per-task gradients of the inner loss (see inner_loss_and_gradients)."""
    return inner_loss_and_gradients(policy, params, batch, create_graph)[1]


def step_scales(inner: InnerConfig, steps: int, beyond: float | None = None) -> list[float]:
    """The factor on the rule's step at inner steps 0..steps-1.

    The trained schedule: 1 at the first step, `inner.later_lr_scale` at the later ones of the
    `inner.steps` a meta-iteration takes (MAML evaluates with 0.1, then 0.05; a run trained with
    several steps can train with that schedule too). Steps beyond `inner.steps` (evaluation's
    extra steps) get `beyond` when given (eval.later_lr_scale), else the trained later scale.
    """
    later = inner.later_lr_scale
    scales = []
    for step in range(steps):
        if step == 0:
            scales.append(1.0)
        elif step < inner.steps or beyond is None:
            scales.append(later)
        else:
            scales.append(beyond)
    return scales


def adapt_path(
    policy: MLPPolicy,
    params: Params,
    rule: UpdateRule,
    train_batches: list[Batch],
    first_order: bool = False,
    scales: Sequence[float] | None = None,
) -> list[Params]:
    """Re-applies the k inner steps of a meta-iteration on their stored D_train batches; returns
    the per-task params after each step (the last is the adapted policy). Step j's rule is
    scaled by `scales[j]` (None: the rule as it is at every step)."""
    state, path = None, []
    for j, batch in enumerate(train_batches):
        step_rule = rule if scales is None else rule.scaled(scales[j])
        params, state = adapt_step(policy, params, step_rule, batch, first_order, state)
        path.append(params)
    return path


def adapt_steps(
    policy: MLPPolicy,
    params: Params,
    rule: UpdateRule,
    train_batches: list[Batch],
    first_order: bool = False,
    scales: Sequence[float] | None = None,
) -> Params:
    """The params after the k inner steps of a meta-iteration (see adapt_path)."""
    if not train_batches:
        return params
    return adapt_path(policy, params, rule, train_batches, first_order, scales)[-1]


def adaptation_rollouts(
    sampler: Sampler,
    params: Params,
    rule: UpdateRule,
    tasks: list,
    steps: int,
    inner: InnerConfig,
    scales: Sequence[float] | None = None,
    timer: Timer | None = None,
    keep_graph: bool = False,
) -> tuple[list[Episodes], Params]:
    """Rolls out and adapts `steps` times, then rolls out the adapted policies once more.

    Returns the steps + 1 episode batches (before any step, after 1, ..., after `steps`) with
    advantages attached, and the final adapted per-task params. Step j scales the rule by
    `scales[j]` (None: the rule as it is; see step_scales: training's schedule, and evaluation's,
    which extends it with eval.later_lr_scale: the paper evaluates a 1-step MAML with 0.1, then
    0.05).

    With `keep_graph` (MAML, Meta-SGD, meta-lstm) the adapted params keep their graph to `params`
    and the rule, exactly as adapt_steps() would rebuild it, so the meta-update reuses this
    adaptation instead of computing it twice. Otherwise nothing is tracked (Reptile, evaluation).
    """
    timer = timer or Timer(sampler.device)
    policy = sampler.policy
    if not keep_graph:
        params = {k: v.detach() for k, v in params.items()}
    batches, state = [], None
    for step in range(steps + 1):
        with timer("sampling"):
            episodes = sampler.sample(params, tasks)
            estimate_advantages(episodes, inner.gamma, inner.gae_lambda, inner.normalize_advantages)
        batches.append(episodes)
        if step < steps:
            with timer("adaptation"):
                step_rule = rule if scales is None else rule.scaled(scales[step])
                params, state = adapt_step(
                    policy, params, step_rule, episodes, inner.first_order, state
                )
    return batches, params


def adaptation_examples(
    sampler: ExampleSampler,
    params: Params,
    rule: UpdateRule,
    tasks: list,
    steps: int,
    inner: InnerConfig,
    timer: Timer | None = None,
    keep_graph: bool = False,
) -> tuple[list[Examples], Params]:
    """The supervised counterpart of adaptation_rollouts: `steps` inner steps on each task's K
    support examples (the same K at every step, as in the few-shot protocol), then the query
    examples the adapted networks are measured on. Returns ([support] * steps + [query],
    adapted params)."""
    timer = timer or Timer(sampler.device)
    if not keep_graph:
        params = {k: v.detach() for k, v in params.items()}
    with timer("sampling"):
        support, query = sampler.support_and_query(tasks)
    with timer("adaptation"):
        scales = step_scales(inner, steps)
        adapted = adapt_steps(
            sampler.policy, params, rule, [support] * steps, inner.first_order, scales
        )
    return [support] * steps + [query], adapted
