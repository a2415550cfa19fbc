"""THE inner loop: one policy-gradient step for all tasks at once, written once for every algorithm.

    theta'_i = theta - alpha (.) grad_theta L_i(theta; D_train_i)        for i = 1..N, batched

MAML calls it with a scalar alpha; Meta-SGD with per-parameter alphas that are themselves learned;
Reptile without a graph. Per-task gradients come from one backward pass: the shared parameters are
expanded to [N, ...] views and the per-task losses summed, so that
d(sum_j L_j)/d theta_i = dL_i/d theta_i.
"""

from __future__ import annotations

import torch

from metarl.baseline import estimate_advantages
from metarl.config import InnerConfig
from metarl.episodes import Episodes
from metarl.policy import MLPPolicy, Params, expand_params, is_per_task
from metarl.sampler import Sampler
from metarl.timing import Timer

StepSizes = float | dict[str, torch.Tensor]


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


def adapt(
    policy: MLPPolicy,
    params: Params,
    step_sizes: StepSizes,
    episodes: Episodes,
    first_order: bool = False,
) -> Params:
    """One inner step for all N tasks; returns per-task params [N, ...].

    - params that require grad (the meta-parameters, or an earlier step's output) keep the graph:
      second-order by default; `first_order=True` treats the inner gradient as a constant.
    - params that do not require grad give a result with no graph at all (sampling, Reptile).
    """
    track = any(p.requires_grad for p in params.values())
    if not is_per_task(params):
        params = expand_params(params, episodes.num_tasks)
    if not track:
        params = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
        if isinstance(step_sizes, dict):
            step_sizes = {k: v.detach() for k, v in step_sizes.items()}
    grads = inner_gradients(policy, params, episodes, create_graph=track and not first_order)
    adapted = {
        name: p - step_size(step_sizes, name) * g for (name, p), g in zip(params.items(), grads)
    }
    if not track:
        adapted = {k: v.detach() for k, v in adapted.items()}
    return adapted


def inner_gradients(
    policy: MLPPolicy, params: Params, episodes: Episodes, create_graph: bool
) -> tuple[torch.Tensor, ...]:
    """The per-task gradients of the inner loss, one per entry of the per-task `params`: the
    gradient of sum_i L_i, since L_i depends on slice i only."""
    with torch.enable_grad():
        loss = pg_loss(policy, params, episodes).sum()
        return torch.autograd.grad(loss, list(params.values()), create_graph=create_graph)


def step_size(step_sizes: StepSizes, name: str) -> torch.Tensor | float:
    """The inner step size of parameter `name`: Meta-SGD's own, or the one scalar."""
    return step_sizes[name] if isinstance(step_sizes, dict) else step_sizes


def adapt_steps(
    policy: MLPPolicy,
    params: Params,
    step_sizes: StepSizes,
    train_episodes: list[Episodes],
    first_order: bool = False,
) -> Params:
    """Re-applies the k inner steps of a meta-iteration on their stored D_train batches."""
    for episodes in train_episodes:
        params = adapt(policy, params, step_sizes, episodes, first_order)
    return params


def scale(step_sizes: StepSizes, factor: float) -> StepSizes:
    if factor == 1.0:
        return step_sizes
    if isinstance(step_sizes, dict):
        return {k: v * factor for k, v in step_sizes.items()}
    return step_sizes * factor


def adaptation_rollouts(
    sampler: Sampler,
    params: Params,
    step_sizes: StepSizes,
    tasks: list,
    steps: int,
    inner: InnerConfig,
    later_scale: float = 1.0,
    timer: Timer | None = None,
    keep_graph: bool = False,
    full_steps: int = 1,
) -> tuple[list[Episodes], Params]:
    """Rolls out and adapts `steps` times, then rolls out the adapted policies once more.

    Returns the steps + 1 episode batches (before any step, after 1, ..., after `steps`) with
    advantages attached, and the final adapted per-task params. The first `full_steps` steps use
    the step sizes as they are (the steps the algorithm was trained with); later ones multiply them
    by `later_scale` (the paper evaluates a 1-step MAML with 0.1, then 0.05).

    With `keep_graph` (MAML, Meta-SGD) the adapted params keep their graph to `params` and
    `step_sizes`, exactly as adapt_steps() would rebuild it, so the meta-update reuses this
    adaptation instead of computing it twice. Otherwise nothing is tracked (Reptile, evaluation).
    """
    timer = timer or Timer(sampler.device)
    policy = sampler.policy
    if not keep_graph:
        params = {k: v.detach() for k, v in params.items()}
    batches = []
    for step in range(steps + 1):
        with timer("sampling"):
            episodes = sampler.sample(params, tasks)
            estimate_advantages(episodes, inner.gamma, inner.gae_lambda, inner.normalize_advantages)
        batches.append(episodes)
        if step < steps:
            with timer("adaptation"):
                alphas = step_sizes if step < full_steps else scale(step_sizes, later_scale)
                params = adapt(policy, params, alphas, episodes, inner.first_order)
    return batches, params
