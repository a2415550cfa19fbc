"""The LSTM update rule (update_rules.LSTMRule): it is MAML when its gates are fixed to f = 1,
i = alpha; it computes what torch.nn.LSTMCell and the gate equations compute; its meta-gradient
matches finite differences; and each of these checks fails on a deliberately broken rule."""

from __future__ import annotations

import math

import pytest
import torch

from metarl.adapt import adapt_steps, pg_loss
from metarl.episodes import Episodes
from metarl.update_rules import FixedStep, LSTMRule, _unflatten, preprocess
from tests.conftest import make_setup, rollout

F64 = torch.float64
HIDDEN = 3


def episodes(num_tasks=2, steps=2, seed=0):
    """A tiny float64 point-goal policy, `steps` D_train batches (each sampled by the previous
    step's adapted policies under plain gradient descent) and D_test."""
    _, policy, sampler, tasks = make_setup(
        num_tasks, 3, hidden=(4,), horizon=10, seed=seed, dtype=F64
    )
    params = policy.params()
    train, x = [], {k: v.detach() for k, v in params.items()}
    for _ in range(steps):
        train.append(rollout(sampler, x, tasks, F64))
        x = adapt_steps(policy, x, FixedStep(0.3), train[-1:])
    test = rollout(sampler, x, tasks, F64)
    return policy, params, train, test


def random_rule(seed=1, scale=0.5) -> LSTMRule:
    """An LSTM rule whose every weight, heads included, is random: f and i vary per coordinate."""
    gen = torch.Generator().manual_seed(seed)
    weights = LSTMRule.initial_weights(HIDDEN, 0.2, 0.9, dtype=F64)
    with torch.no_grad():
        for v in weights.values():
            v.add_(scale * torch.randn(v.shape, generator=gen, dtype=F64))
    return LSTMRule(weights)


def gates_fixed_to(alpha: float) -> LSTMRule:
    """f = 1 (sigmoid(40) is 1.0 in float64) and i = sigmoid(logit(alpha)) = alpha, whatever the
    LSTM cell computes: its heads have zero weights."""
    weights = LSTMRule.initial_weights(HIDDEN, alpha, 0.5, dtype=F64)
    with torch.no_grad():
        weights["forget.bias"].fill_(40.0)
    assert torch.sigmoid(weights["forget.bias"]).item() == 1.0
    return LSTMRule(weights)


def meta_loss(policy, params, rule, train, test, first_order=False):
    adapted = adapt_steps(policy, params, rule, train, first_order)
    return pg_loss(policy, adapted, test).sum(), adapted


# --- the checks, written once so that the mutation tests below can run them on broken rules ----


def differs_from_maml(rule: LSTMRule, alpha: float) -> float:
    """Largest difference between the rule's and MAML's adapted params and meta-gradients."""
    policy, params, train, test = episodes()
    loss, adapted = meta_loss(policy, params, rule, train, test)
    ref_loss, ref_adapted = meta_loss(policy, params, FixedStep(alpha), train, test)
    grads = torch.autograd.grad(loss, list(params.values()))
    ref_grads = torch.autograd.grad(ref_loss, list(params.values()))
    gaps = [(adapted[k] - ref_adapted[k]).abs().max() for k in params]
    gaps += [(g - r).abs().max() / r.abs().max() for g, r in zip(grads, ref_grads)]
    return max(float(g.detach()) for g in gaps)


def reference_step(rule: LSTMRule, theta, g, loss, state):
    """One step computed coordinate by coordinate with torch.nn.LSTMCell and the gate equations
    of Ravi & Larochelle (2017), eq. 2-4: theta [P], g [P], loss a number."""
    w = {k: v.detach() for k, v in rule.weights.items()}
    cell = torch.nn.LSTMCell(4, HIDDEN, dtype=F64)
    with torch.no_grad():
        cell.weight_ih.copy_(w["cell.weight_ih"])
        cell.weight_hh.copy_(w["cell.weight_hh"])
        cell.bias_ih.copy_(w["cell.bias"])
        cell.bias_hh.zero_()
    new_theta, new_state = [], []
    for j in range(len(theta)):
        x = torch.cat([preprocess(g[j]), preprocess(torch.as_tensor(loss, dtype=F64))])
        h, c, f_prev, i_prev = state[j] if state else (None, None, 0.0, 0.0)
        hc = None if h is None else (h.view(1, -1), c.view(1, -1))
        h, c = (t.view(-1) for t in cell(x.view(1, -1), hc))
        f = torch.sigmoid(
            w["forget.weight"] @ torch.cat([h, theta[j : j + 1], torch.tensor([f_prev], dtype=F64)])
            + w["forget.bias"]
        )
        i = torch.sigmoid(
            w["input.weight"] @ torch.cat([h, theta[j : j + 1], torch.tensor([i_prev], dtype=F64)])
            + w["input.bias"]
        )
        new_theta.append(f * theta[j] - i * g[j])
        new_state.append((h, c, float(f), float(i)))
    return torch.stack(new_theta), new_state


def differs_from_reference(rule: LSTMRule, steps: int = 2) -> float:
    """Largest gap between the batched rule and the per-coordinate reference over `steps`
    steps on made-up gradients and losses of two tasks."""
    gen = torch.Generator().manual_seed(0)
    params = {
        "a": torch.randn(2, 3, 2, generator=gen, dtype=F64),
        "b": torch.randn(2, 4, generator=gen, dtype=F64),
    }
    state, ref_states, gap = None, [None, None], 0.0
    with torch.no_grad():
        for _ in range(steps):
            grads = tuple(torch.randn(v.shape, generator=gen, dtype=F64) for v in params.values())
            grads[0][0, 0, 0] = 1e-6  # below e^-10 too: preprocess's other branch
            grads[0][0, 0, 1] = 2e-5
            losses = torch.rand(2, generator=gen, dtype=F64) * 3
            new, state = rule.step(params, grads, losses, state)
            for task in range(2):
                theta = torch.cat([v[task].reshape(-1) for v in params.values()])
                g = torch.cat([v[task].reshape(-1) for v in grads])
                expected, ref_states[task] = reference_step(
                    rule, theta, g, float(losses[task]), ref_states[task]
                )
                got = torch.cat([v[task].reshape(-1) for v in new.values()])
                gap = max(gap, float((got - expected).abs().max()))
            params = new
    return gap


def differs_from_finite_differences(rule: LSTMRule) -> float:
    """Largest relative gap between the analytic meta-gradient (theta and the rule's weights,
    two inner steps) and central differences along three random directions."""
    policy, params, train, test = episodes(seed=3)
    names, rule_names = list(params), list(rule.weights)
    leaves = list(params.values()) + [rule.weights[k] for k in rule_names]

    def objective(values):
        theta = dict(zip(names, values[: len(names)]))
        r = type(rule)(dict(zip(rule_names, values[len(names) :])))
        return meta_loss(policy, theta, r, train, test)[0]

    grads = torch.autograd.grad(objective(leaves), leaves, allow_unused=True)
    grads = [torch.zeros_like(p) if g is None else g for p, g in zip(leaves, grads)]
    gen, eps, gap = torch.Generator().manual_seed(0), 1e-6, 0.0
    for _ in range(3):
        direction = [torch.randn(p.shape, generator=gen, dtype=F64) for p in leaves]
        analytic = sum((g * d).sum() for g, d in zip(grads, direction))
        shifted = [
            objective(
                [(p + s * eps * d).detach().requires_grad_(True) for p, d in zip(leaves, direction)]
            )
            for s in (1, -1)
        ]
        numeric = (shifted[0] - shifted[1]) / (2 * eps)
        gap = max(gap, abs(analytic.item() - numeric.item()) / max(abs(numeric.item()), 1e-8))
    return gap


# --- the tests ----------------------------------------------------------------------------------


def test_lstm_rule_with_gates_fixed_to_one_and_alpha_is_maml():
    """Adapted params and the meta-gradient in theta equal MAML's over two inner steps (the
    only difference: sigmoid(logit(alpha)) is alpha to the last bit or so)."""
    assert differs_from_maml(gates_fixed_to(0.3), 0.3) < 1e-13


def test_untrained_lstm_rule_is_gradient_descent_with_a_slight_decay():
    """theta'_i = 0.999 theta - lr g_i: the forget gate at its initial value, the input gate at
    the inner lr, for every coordinate of every task."""
    policy, params, train, _ = episodes()
    rule = LSTMRule(LSTMRule.initial_weights(HIDDEN, 0.3, 0.999, dtype=F64))
    got = adapt_steps(policy, params, rule, train[:1])
    for i in range(train[0].num_tasks):
        loss_i = pg_loss(policy, params, _task(train[0], i)).sum()
        g_i = torch.autograd.grad(loss_i, list(params.values()))
        for (k, p), g in zip(params.items(), g_i):
            torch.testing.assert_close(got[k][i], 0.999 * p - 0.3 * g, rtol=1e-12, atol=1e-12)


def _task(eps: Episodes, i: int) -> Episodes:
    s = slice(i, i + 1)
    fields = (eps.observations, eps.actions, eps.rewards, eps.mask, eps.advantages)
    return Episodes(*(t[:, s] for t in fields))


def test_lstm_rule_equals_a_per_coordinate_lstm_cell_reference():
    assert differs_from_reference(random_rule()) < 1e-12


def test_lstm_rule_meta_gradient_matches_finite_differences():
    assert differs_from_finite_differences(random_rule(scale=0.3)) < 1e-5


def test_preprocessing_is_andrychowicz_et_al():
    x = torch.tensor([2.0, -3e-3, 1e-6, -1e-6, 0.0], dtype=F64)
    expected = torch.tensor(
        [
            [math.log(2.0) / 10, 1.0],
            [math.log(3e-3) / 10, -1.0],
            [-1.0, math.exp(10) * 1e-6],
            [-1.0, -math.exp(10) * 1e-6],
            [-1.0, 0.0],
        ],
        dtype=F64,
    )
    torch.testing.assert_close(preprocess(x), expected)
    x.requires_grad_(True)
    (g,) = torch.autograd.grad(preprocess(x).sum(), x)
    assert g.isfinite().all()  # no NaN from log at 0 in the branch where() drops


# --- mutation checks: each check above fails on a rule broken in the way it guards against -------


class NoForget(LSTMRule):
    """Drops the forget gate: theta - i g."""

    def step(self, params, grads, losses, state):
        theta, g, f, i, state = self.gates(params, grads, losses, state)
        return _unflatten(theta - i * g, params), state


class WrongSign(LSTMRule):
    """Climbs the loss: f theta + i g."""

    def step(self, params, grads, losses, state):
        new, state = super().step(params, tuple(-g for g in grads), losses, state)
        return new, state


class ForgetsItsState(LSTMRule):
    """Restarts the LSTM at every step (previous gates and hidden state dropped)."""

    def step(self, params, grads, losses, state):
        return super().step(params, grads, losses, None)


class DetachedGates(LSTMRule):
    """Gates computed without a graph: the LSTM weights would never be meta-learned, and the
    meta-gradient misses the gates' dependence on theta."""

    def gates(self, params, grads, losses, state):
        with torch.no_grad():
            _, _, f, i, state = super().gates(params, grads, losses, state)
        theta = torch.cat([v.reshape(losses.shape[0], -1) for v in params.values()], 1)
        g = torch.cat([v.reshape(losses.shape[0], -1) for v in grads], 1)
        return theta, g, f, i, state


@pytest.mark.parametrize(
    ("broken", "check"),
    [
        (WrongSign, "maml"),
        (NoForget, "reference"),
        (ForgetsItsState, "reference"),
        (DetachedGates, "finite differences"),
    ],
)
def test_each_check_catches_a_broken_rule(broken, check):
    if check == "maml":
        weights = gates_fixed_to(0.3).weights
        assert differs_from_maml(broken(weights), 0.3) > 1e-3
    elif check == "reference":
        assert differs_from_reference(broken(random_rule().weights)) > 1e-3
    else:
        assert differs_from_finite_differences(broken(random_rule(scale=0.3).weights)) > 1e-3
