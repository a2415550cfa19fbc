"""Equivalences that guard the meta-gradient: batched against a per-task loop, Meta-SGD with
constant step sizes against MAML, first against second order, finite differences."""

import pytest
import torch

from metarl.adapt import adapt, pg_loss
from metarl.episodes import Episodes
from metarl.update_rules import FixedStep, LearnedStep
from tests.conftest import make_setup, rollout

torch.set_default_dtype(torch.float32)
D = torch.float64


def task_slice(eps: Episodes, i: int) -> Episodes:
    s = slice(i, i + 1)
    return Episodes(
        eps.observations[:, s],
        eps.actions[:, s],
        eps.rewards[:, s],
        eps.mask[:, s],
        eps.advantages[:, s],
    )


def data(num_tasks=3, episodes=4, hidden=(8, 8), seed=0):
    """Shared params, D_train from them, D_test from the adapted ones: real point-goal rollouts."""
    _, policy, sampler, tasks = make_setup(num_tasks, episodes, hidden, seed=seed, dtype=D)
    params = policy.params()
    train = rollout(sampler, params, tasks, D)
    adapted = adapt(policy, params, FixedStep(0.5), train)
    test = rollout(sampler, adapted, tasks, D)
    return policy, params, train, test


def meta_objective(policy, params, step_sizes, train, test, first_order=False):
    """The MAML objective with a fixed step (a number) or Meta-SGD's (a dict of step sizes)."""
    rule = LearnedStep(step_sizes) if isinstance(step_sizes, dict) else FixedStep(step_sizes)
    adapted = adapt(policy, params, rule, train, first_order)
    return pg_loss(policy, adapted, test).sum(), adapted


def test_one_inner_step_lowers_the_inner_loss():
    policy, params, train, _ = data()
    adapted = adapt(policy, params, FixedStep(0.05), train)
    before = pg_loss(policy, params, train)  # shared params broadcast over tasks
    after = pg_loss(policy, adapted, train)
    assert torch.all(after < before)


def test_batched_adapt_equals_per_task_loop():
    policy, params, train, test = data()
    loss, adapted = meta_objective(policy, params, 0.5, train, test)
    grads = torch.autograd.grad(loss, list(params.values()))
    # Reference: a plain loop over tasks, each with its own autograd.grad on the shared params.
    loop_loss = 0
    for i in range(train.num_tasks):
        inner = pg_loss(policy, params, task_slice(train, i)).sum()
        g = torch.autograd.grad(inner, list(params.values()), create_graph=True)
        theta_i = {k: p - 0.5 * gi for (k, p), gi in zip(params.items(), g)}
        for k in params:
            assert torch.allclose(adapted[k][i], theta_i[k], atol=1e-10)
        theta_i = {k: v.unsqueeze(0) for k, v in theta_i.items()}
        loop_loss = loop_loss + pg_loss(policy, theta_i, task_slice(test, i)).sum()
    loop_grads = torch.autograd.grad(loop_loss, list(params.values()))
    assert torch.allclose(loss, loop_loss)
    for a, b in zip(grads, loop_grads):
        assert torch.allclose(a, b, atol=1e-10)


def test_meta_sgd_with_constant_step_sizes_equals_maml():
    policy, params, train, test = data()
    alphas = {k: torch.full_like(v, 0.5).requires_grad_(True) for k, v in params.items()}
    maml_loss, maml_adapted = meta_objective(policy, params, 0.5, train, test)
    sgd_loss, sgd_adapted = meta_objective(policy, params, alphas, train, test)
    for k in params:
        assert torch.allclose(maml_adapted[k], sgd_adapted[k])
    g_maml = torch.autograd.grad(maml_loss, list(params.values()))
    g_sgd = torch.autograd.grad(sgd_loss, list(params.values()) + list(alphas.values()))
    for a, b in zip(g_maml, g_sgd[: len(params)]):
        assert torch.allclose(a, b, atol=1e-10)
    # ... and the step sizes do receive a gradient: dL/dalpha = -sum_i grad_inner_i * grad_outer_i
    assert all(g.abs().sum() > 0 for g in g_sgd[len(params) :])


def test_first_order_drops_exactly_the_second_order_term():
    policy, params, train, test = data()
    alpha = 0.5
    so_loss, adapted = meta_objective(policy, params, alpha, train, test)
    fo_loss, _ = meta_objective(policy, params, alpha, train, test, first_order=True)
    names = list(params)
    so = torch.autograd.grad(so_loss, list(params.values()))
    fo = torch.autograd.grad(fo_loss, list(params.values()))
    # FOMAML: the sum over tasks of the outer gradient at theta'_i.
    adapted_leaf = {k: v.detach().requires_grad_(True) for k, v in adapted.items()}
    outer = torch.autograd.grad(
        pg_loss(policy, adapted_leaf, test).sum(), list(adapted_leaf.values())
    )
    for f, o in zip(fo, outer):
        assert torch.allclose(f, o.sum(0), atol=1e-10)
    # Second order: sum_i (I - alpha H_i) g_i, with H_i the inner Hessian of task i.
    expected = [o.sum(0).clone() for o in outer]
    for i in range(train.num_tasks):
        inner = pg_loss(policy, params, task_slice(train, i)).sum()
        g = torch.autograd.grad(inner, list(params.values()), create_graph=True)
        g_dot_v = sum((gi * o[i]).sum() for gi, o in zip(g, outer))
        hv = torch.autograd.grad(g_dot_v, list(params.values()))
        for j in range(len(names)):
            expected[j] -= alpha * hv[j]
    for s, e in zip(so, expected, strict=True):
        assert torch.allclose(s, e, atol=1e-9)
    assert not all(torch.allclose(s, f) for s, f in zip(so, fo)), "second-order term vanished"


@pytest.mark.parametrize("learn_step_sizes", [False, True])
def test_second_order_meta_gradient_matches_finite_differences(learn_step_sizes):
    policy, params, train, test = data(num_tasks=2, episodes=3, hidden=(4,), seed=3)
    names = list(params)
    alphas = {k: torch.full_like(v, 0.5).requires_grad_(True) for k, v in params.items()}

    def objective(theta, alpha):
        return meta_objective(policy, theta, alpha if learn_step_sizes else 0.5, train, test)[0]

    leaves = list(params.values()) + (list(alphas.values()) if learn_step_sizes else [])
    grads = torch.autograd.grad(objective(params, alphas), leaves)
    gen = torch.Generator().manual_seed(0)
    eps = 1e-6
    for _ in range(3):
        direction = [torch.randn(p.shape, generator=gen, dtype=D) for p in leaves]
        analytic = sum((g * d).sum() for g, d in zip(grads, direction))

        def shifted(sign, direction=direction):
            moved = [(p + sign * eps * d).detach() for p, d in zip(leaves, direction)]
            theta = dict(zip(names, moved[: len(names)]))
            alpha = dict(zip(names, moved[len(names) :])) if learn_step_sizes else None
            return objective(theta, alpha)

        numeric = (shifted(+1) - shifted(-1)) / (2 * eps)
        assert analytic.item() == pytest.approx(numeric.item(), rel=1e-5, abs=1e-8)


def test_adapt_without_graph_builds_none():
    policy, params, train, _ = data()
    detached = {k: v.detach() for k, v in params.items()}
    out = adapt(policy, detached, FixedStep(0.5), train)
    assert all(not v.requires_grad and v.grad_fn is None for v in out.values())
    assert all(p.grad is None for p in params.values())


@pytest.mark.parametrize("tasks_per_chunk", [1, 2, 5])
def test_chunked_per_task_forward_equals_one_pass(monkeypatch, tasks_per_chunk):
    """MLPPolicy.mlp runs per-task batches on the CPU a few tasks at a time (policy.py); the
    meta-objective and its second-order meta-gradient must not depend on the chunk size."""
    import metarl.policy

    policy, params, train, test = data(num_tasks=5, episodes=2, hidden=(8, 8))
    monkeypatch.setattr(metarl.policy, "CPU_CHUNK_ELEMENTS", 10**12)
    reference, _ = meta_objective(policy, params, 0.5, train, test)
    expected = torch.autograd.grad(reference, list(params.values()))
    # A chunk's budget: its tasks x steps per task x the widest layer (8 units).
    rows = train.horizon * train.episodes_per_task
    monkeypatch.setattr(metarl.policy, "CPU_CHUNK_ELEMENTS", tasks_per_chunk * rows * 8)
    per_task = {k: v.expand(5, *v.shape) for k, v in params.items()}
    assert policy._tasks_per_chunk(per_task, train.by_task(train.observations)) == tasks_per_chunk
    loss, _ = meta_objective(policy, params, 0.5, train, test)
    got = torch.autograd.grad(loss, list(params.values()))
    torch.testing.assert_close(loss, reference, rtol=1e-12, atol=0)
    for g, e in zip(got, expected):
        torch.testing.assert_close(g, e, rtol=1e-10, atol=1e-14)
