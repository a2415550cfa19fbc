import numpy as np
import pytest
import torch

from metarl.adapt import adapt
from metarl.algos import MAML
from metarl.algos.trpo import TRPO, conjugate_gradient, flat_grad, get_flat
from metarl.config import Config
from metarl.update_rules import FixedStep
from tests.conftest import make_setup, rollout


def test_conjugate_gradient_solves_spd_system():
    torch.manual_seed(0)
    a = torch.randn(6, 6, dtype=torch.float64)
    a = a @ a.T + 0.5 * torch.eye(6, dtype=torch.float64)
    b = torch.randn(6, dtype=torch.float64)
    x, r = conjugate_gradient(lambda v: a @ v, b, iters=6)
    assert torch.allclose(a @ x, b, atol=1e-8)
    assert torch.allclose(r, b - a @ x, atol=1e-8)  # TRPO uses F x = b - r for the step length


def test_cg_residual_gives_the_fisher_product_of_the_solution():
    algo, train, test = maml_setup()
    evaluate, _ = algo.outer_objective(train, test)
    loss, kl = evaluate(True)
    g = flat_grad(loss, algo.meta_parameters(), retain_graph=True)
    fvp = algo.trpo.fisher_vector_product(kl)
    x, r = conjugate_gradient(fvp, g, 10)
    assert torch.allclose(g - r, fvp(x), rtol=1e-3, atol=1e-6 * g.abs().max().item())


def test_conjugate_gradient_survives_a_zero_residual():
    x, _ = conjugate_gradient(lambda v: 2 * v, torch.zeros(3), iters=10)
    assert torch.all(torch.isfinite(x)) and torch.all(x == 0)


def maml_setup(fisher_subsample=1.0, seed=0):
    cfg = Config()
    cfg.sampler.meta_batch_size, cfg.sampler.episodes_per_task = 3, 10
    cfg.outer.fisher_subsample = fisher_subsample
    _, policy, sampler, tasks = make_setup(3, 10, hidden=(16, 16), horizon=20, seed=seed)
    algo = MAML(policy, sampler, cfg)
    train = [rollout(sampler, algo.params, tasks)]
    test = rollout(
        sampler,
        adapt(policy, {k: v.detach() for k, v in algo.params.items()}, FixedStep(0.1), train[0]),
        tasks,
    )
    return algo, train, test


def test_trpo_step_improves_surrogate_within_trust_region():
    algo, train, test = maml_setup()
    before = get_flat(algo.meta_parameters())
    stats = algo.trpo.step(algo.outer_objective(train, test)[0])
    assert stats["accepted"].item() == 1.0
    assert stats["loss_after"].item() < stats["loss_before"].item()
    assert 0 < stats["kl"].item() <= algo.cfg.outer.max_kl
    assert not torch.equal(before, get_flat(algo.meta_parameters()))


def test_failed_line_search_keeps_old_parameters():
    params = [torch.randn(4, requires_grad=True)]
    trpo = TRPO(params, max_kl=0.01, ls_max_steps=5)
    calls = {"n": 0}

    def evaluate(track):
        calls["n"] += 1
        loss = (params[0] ** 2).sum()
        kl = 0.5 * ((params[0] - params[0].detach()) ** 2).sum()
        # Every candidate step is rejected: the loss 'got worse' (tracked call gives a low loss).
        return (loss - 100.0 if track else loss), kl

    before = params[0].detach().clone()
    stats = trpo.step(evaluate)
    assert stats["accepted"].item() == 0.0
    assert torch.equal(params[0].detach(), before)
    assert calls["n"] == 1 + 5


def test_full_fraction_fisher_is_the_plain_double_backward_one():
    # With every episode, the Gauss-Newton product is the Hessian of evaluate's own KL.
    for fraction in (1.0, 0.95):  # 0.95 rounds to 10 of 10 episodes: still the full batch
        algo, train, test = maml_setup(fisher_subsample=fraction)
        evaluate, fisher = algo.outer_objective(train, test)
        _, kl = evaluate(True)
        v = torch.randn_like(get_flat(algo.meta_parameters()))
        a = algo.trpo.fisher_vector_product(kl)(v)
        b = algo.trpo.damped(fisher())(v)
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-7)


def test_fisher_subsample_changes_little_of_the_step_direction():
    torch.manual_seed(0)
    np.random.seed(0)
    full, train, test = maml_setup(fisher_subsample=1.0)
    sub, _, _ = maml_setup(fisher_subsample=0.5)
    g = None
    dirs = []
    for algo in (full, sub):
        evaluate, fisher = algo.outer_objective(train, test)
        loss, _ = evaluate(True)
        g = flat_grad(loss, algo.meta_parameters())
        dirs.append(conjugate_gradient(algo.trpo.damped(fisher()), g, 10)[0])
    cos = torch.nn.functional.cosine_similarity(dirs[0], dirs[1], dim=0).item()
    assert cos > 0.5, f"subsampled natural gradient points elsewhere (cosine {cos:.2f})"


@pytest.mark.parametrize("first_order", [False, True])
def test_reusing_the_sampling_adaptation_gives_the_same_meta_gradient(first_order):
    algo, train, test = maml_setup()
    algo.cfg.inner.first_order = first_order
    params = algo.meta_parameters()
    # as adaptation_rollouts does
    kept = adapt(algo.policy, algo.params, FixedStep(0.1), train[0], first_order)
    loss_reused, _ = algo.outer_objective(train, test, kept)[0](True)
    loss_fresh, _ = algo.outer_objective(train, test)[0](True)
    assert torch.equal(loss_reused, loss_fresh)
    g_reused = flat_grad(loss_reused, params)
    g_fresh = flat_grad(loss_fresh, params)
    assert torch.allclose(g_reused, g_fresh, rtol=1e-6, atol=1e-9)
