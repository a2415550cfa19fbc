"""The inner-loop training options: the step schedule (inner.later_lr_scale), MAML++'s
multi-step meta-loss (inner.loss_steps: all) and frozen parameters (inner.frozen). The 'last' loss
is MAML's exactly, the 'all' loss is the mean of the per-step MAML objectives, its gradient
matches finite differences, and the Gauss-Newton Fisher matches the double-backward Hessian of
the mean KL under every option."""

from __future__ import annotations

import pytest
import torch

from metarl.adapt import adapt_path, adapt_step, step_scales
from metarl.algos import MAML, MetaSGD, Reptile
from metarl.algos.trpo import flat_grad, get_flat, hessian_vector_product, set_flat
from metarl.config import Config, InnerConfig
from metarl.errors import ConfigError
from metarl.update_rules import FixedStep
from tests.conftest import make_setup, rollout

F64 = torch.float64


def make_algo(algo_cls=MAML, steps=2, later=0.5, loss_steps="all", first_order=False, frozen=()):
    cfg = Config()
    cfg.inner.frozen = list(frozen)
    cfg.sampler.meta_batch_size, cfg.sampler.episodes_per_task = 3, 6
    cfg.inner.steps, cfg.inner.later_lr_scale, cfg.inner.loss_steps = steps, later, loss_steps
    cfg.inner.first_order = first_order
    cfg.outer.fisher_subsample = 1.0
    _, policy, sampler, tasks = make_setup(3, 6, hidden=(6, 6), horizon=10, dtype=F64)
    return cfg, build(algo_cls, policy, sampler, cfg), sampler, tasks


def build(algo_cls, policy, sampler, cfg):
    algo = algo_cls(policy, sampler, cfg)
    if isinstance(algo, MetaSGD):  # distinct step sizes, so that a mix-up of entries shows
        with torch.no_grad():
            for alpha in algo.alphas.values():
                alpha.uniform_(0.05, 0.2)
    return algo


def sample(algo, sampler, tasks, steps, scales):
    """One meta-iteration's batches D_0..D_steps, each sampled by the previous step's policy."""
    params = {k: v.detach() for k, v in algo.params.items()}
    rule = algo.update_rule().detached()
    batches, state = [], None
    for j in range(steps + 1):
        batches.append(rollout(sampler, params, tasks, dtype=F64))
        if j < steps:
            params, state = adapt_step(
                algo.policy, params, rule.scaled(scales[j]), batches[-1], False, state
            )
    return batches


def test_step_scales_follow_the_trained_schedule_then_the_evaluations():
    assert step_scales(InnerConfig(steps=1), 3, beyond=0.5) == [1.0, 0.5, 0.5]
    assert step_scales(InnerConfig(steps=2, later_lr_scale=0.5), 2) == [1.0, 0.5]
    assert step_scales(InnerConfig(steps=2, later_lr_scale=0.25), 3, 0.5) == [1.0, 0.25, 0.5]
    assert step_scales(InnerConfig(steps=3), 3) == [1.0, 1.0, 1.0]


def test_the_schedule_is_the_paper_steps_one_after_the_other():
    cfg, algo, sampler, tasks = make_algo()
    batches = sample(algo, sampler, tasks, 2, [1.0, 0.5])
    path = adapt_path(algo.policy, algo.params, FixedStep(0.1), batches[:2], False, [1.0, 0.5])
    x = adapt_step(algo.policy, algo.params, FixedStep(0.1), batches[0])[0]
    y = adapt_step(algo.policy, x, FixedStep(0.05), batches[1])[0]
    for k in algo.params:
        torch.testing.assert_close(path[0][k], x[k], rtol=0, atol=0)
        torch.testing.assert_close(path[1][k], y[k], rtol=0, atol=0)


@pytest.mark.parametrize("algo_cls", [MAML, MetaSGD], ids=["maml", "meta-sgd"])
def test_one_inner_step_all_is_last(algo_cls):
    """With one inner step the multi-step loss is MAML's loss: same value, gradient, Fisher."""
    results = []
    for loss_steps in ("last", "all"):
        cfg, algo, sampler, tasks = make_algo(algo_cls, steps=1, loss_steps=loss_steps)
        train, test = (b := sample(algo, sampler, tasks, 1, [1.0]))[:1], b[1]
        evaluate, fisher = algo.outer_objective(train, test)
        loss, kl = evaluate(True)
        grad = flat_grad(loss, algo.meta_parameters())
        v = torch.linspace(-1, 1, grad.numel(), dtype=F64)
        results.append((loss.detach(), kl.detach(), grad, fisher()(v)))
    for last, every in zip(*results):
        torch.testing.assert_close(every, last, rtol=0, atol=0)


@pytest.mark.parametrize("algo_cls", [MAML, MetaSGD], ids=["maml", "meta-sgd"])
def test_all_is_the_mean_of_the_per_step_objectives(algo_cls):
    """loss_steps 'all' over 2 steps = (the 1-step objective on (D_0; D_1) + the 2-step one on
    (D_0, D_1; D_2)) / 2, in value and in meta-gradient; each of those is the 'last' loss."""
    cfg, algo, sampler, tasks = make_algo(algo_cls)
    batches = sample(algo, sampler, tasks, 2, [1.0, 0.5])
    loss, _ = algo.outer_objective(batches[:2], batches[2])[0](True)
    grad = flat_grad(loss, algo.meta_parameters())
    cfg.inner.loss_steps = "last"
    one, _ = algo.outer_objective(batches[:1], batches[1])[0](True)
    two, _ = algo.outer_objective(batches[:2], batches[2])[0](True)
    expected = flat_grad((one + two) / 2, algo.meta_parameters())
    torch.testing.assert_close(loss.detach(), ((one + two) / 2).detach(), rtol=1e-12, atol=0)
    torch.testing.assert_close(grad, expected, rtol=1e-10, atol=1e-14)


def test_multi_step_meta_gradient_matches_finite_differences():
    cfg, algo, sampler, tasks = make_algo(MAML, steps=2, later=0.5, loss_steps="all")
    batches = sample(algo, sampler, tasks, 2, [1.0, 0.5])
    evaluate, _ = algo.outer_objective(batches[:2], batches[2])
    loss, _ = evaluate(True)  # fixes 'old', so later calls measure the same surrogate
    grad = flat_grad(loss, algo.meta_parameters())
    theta = get_flat(algo.meta_parameters())
    generator = torch.Generator().manual_seed(3)
    eps = 1e-6
    for _ in range(3):
        d = torch.randn(theta.numel(), generator=generator, dtype=F64)
        d = d / d.norm()
        values = []
        for sign in (1, -1):
            set_flat(algo.meta_parameters(), theta + sign * eps * d)
            values.append(evaluate(False)[0].item())
        set_flat(algo.meta_parameters(), theta)
        numeric = (values[0] - values[1]) / (2 * eps)
        assert (grad @ d).item() == pytest.approx(numeric, rel=1e-5, abs=1e-9)


@pytest.mark.parametrize(
    ("algo_cls", "frozen"),
    [(MAML, ()), (MetaSGD, ()), (MAML, ("log_std",))],
    ids=["maml", "meta-sgd", "maml-frozen-log-std"],
)
@pytest.mark.parametrize("loss_steps", ["last", "all"])
def test_scheduled_fisher_is_the_hessian_of_the_mean_kl(algo_cls, frozen, loss_steps):
    """fisher() (Gauss-Newton, scaled later steps, frozen parameters, mean over the loss's steps)
    equals the double-backward Hessian of the mean of the steps' straight-through KLs."""
    cfg, algo, sampler, tasks = make_algo(algo_cls, 2, 0.5, loss_steps, frozen=frozen)
    batches = sample(algo, sampler, tasks, 2, [1.0, 0.5])
    train = batches[:2]
    evaluate, fisher = algo.outer_objective(train, batches[2])
    evaluate(True)
    product = fisher()
    path = adapt_path(
        algo.policy,
        {k: v.detach() for k, v in algo.params.items()},
        algo.update_rule().detached(),
        train,
        False,
        [1.0, 0.5],
    )
    steps = [0, 1] if loss_steps == "all" else [1]
    kls = [algo.straight_through_kl(train[: j + 1], batches[j + 1], path[j], 6) for j in steps]
    reference = hessian_vector_product(torch.stack(kls).mean(), algo.meta_parameters())
    generator = torch.Generator().manual_seed(0)
    size = get_flat(algo.meta_parameters()).numel()
    for _ in range(2):
        v = torch.randn(size, generator=generator, dtype=F64)
        expected = reference(v)
        torch.testing.assert_close(
            product(v), expected, rtol=1e-9, atol=1e-12 * expected.abs().max()
        )


def test_reptile_refuses_a_multi_step_loss():
    cfg = Config()
    cfg.algo, cfg.inner.loss_steps = "reptile", "all"
    _, policy, sampler, _ = make_setup()
    with pytest.raises(ConfigError, match="Reptile has none"):
        Reptile(policy, sampler, cfg)


def test_a_frozen_parameter_keeps_its_value_and_the_others_step_as_before():
    _, algo, sampler, tasks = make_algo(MAML, steps=1, frozen=("log_std",))
    batch = sample(algo, sampler, tasks, 1, [1.0])[0]
    frozen = adapt_step(algo.policy, algo.params, algo.update_rule(), batch)[0]
    free = adapt_step(algo.policy, algo.params, FixedStep(0.1), batch)[0]
    n = batch.num_tasks
    torch.testing.assert_close(frozen["log_std"], algo.params["log_std"].expand(n, -1))
    assert not torch.equal(free["log_std"], frozen["log_std"])
    for k in algo.params:
        if k != "log_std":
            torch.testing.assert_close(frozen[k], free[k], rtol=0, atol=0)


@pytest.mark.parametrize(
    ("algo", "frozen", "match"),
    [
        ("meta-sgd", ["log_std"], "inner.frozen applies to maml only"),
        ("maml", ["log_sd"], r"inner.frozen names \['log_sd'\], which the policy does not have"),
    ],
)
def test_frozen_is_refused_where_it_cannot_apply(algo, frozen, match):
    from metarl.algos import ALGORITHMS

    cfg = Config()
    cfg.algo, cfg.inner.frozen = algo, frozen
    _, policy, sampler, _ = make_setup()
    with pytest.raises(ConfigError, match=match):
        ALGORITHMS[algo](policy, sampler, cfg)
