"""The Gauss-Newton Fisher-vector product (metarl/algos/fisher.py) equals the double-backward
Hessian of the KL through the adaptation, for every way the adaptation can be set up, with the
Hessian-vector products in closed form (gaussian_mlp.py) and by autograd."""

from __future__ import annotations

import pytest
import torch

from metarl.adapt import adapt, adapt_steps
from metarl.algos import MAML, MetaLSTM, MetaSGD
from metarl.algos.fisher import AdaptationFisher
from metarl.algos.trpo import flat_grad, get_flat
from metarl.config import Config
from metarl.update_rules import LSTMRule
from tests.conftest import make_setup, rollout

F64 = torch.float64


def setup(algo_cls: type, inner_steps: int, first_order: bool, episodes: int = 6):
    """An algorithm in float64 and one meta-iteration's data: `inner_steps` D_train batches (each
    sampled by the previous step's adapted policies) and D_test."""
    cfg = Config()
    cfg.sampler.meta_batch_size, cfg.sampler.episodes_per_task = 3, episodes
    cfg.inner.first_order = first_order
    _, policy, sampler, tasks = make_setup(3, episodes, hidden=(8, 8), horizon=12, dtype=F64)
    algo = algo_cls(policy, sampler, cfg)
    if isinstance(algo, MetaSGD):  # distinct step sizes, so that a mix-up of entries shows
        with torch.no_grad():
            for alpha in algo.alphas.values():
                alpha.uniform_(0.05, 0.2)
    params = {k: v.detach() for k, v in algo.params.items()}
    rule = algo.update_rule().detached()
    train = []
    for _ in range(inner_steps):
        train.append(rollout(sampler, params, tasks, dtype=F64))
        params = adapt(policy, params, rule, train[-1])
    test = rollout(sampler, params, tasks, dtype=F64)
    return algo, train, test, params


def double_backward_fvp(algo, train, test, adapted_old, episodes):
    """The reference: the Hessian of the straight-through KL, by double backward (no damping)."""
    kl = algo.straight_through_kl(train, test, adapted_old, episodes)
    # J^T M J is its Hessian because the KL is 0, with zero gradient, at the adapted policies.
    assert abs(kl.item()) < 1e-12
    assert flat_grad(kl, algo.meta_parameters(), retain_graph=True).abs().max().item() < 1e-12
    fvp = algo.trpo.fisher_vector_product(kl)
    return lambda v: fvp(v) - algo.trpo.cg_damping * v


@pytest.mark.parametrize(
    ("algo_cls", "inner_steps", "first_order"),
    [
        (MAML, 1, False),
        (MAML, 2, False),
        (MAML, 1, True),
        (MetaSGD, 1, False),
        (MetaSGD, 2, False),
        (MetaSGD, 1, True),
    ],
    ids=["maml", "maml-2-steps", "fomaml", "meta-sgd", "meta-sgd-2-steps", "meta-sgd-first-order"],
)
@pytest.mark.parametrize("episodes", [6, 2], ids=["all-episodes", "subset"])
@pytest.mark.parametrize("closed_form", [True, False], ids=["closed-form", "autograd"])
def test_gauss_newton_product_equals_the_double_backward_one(
    algo_cls, inner_steps, first_order, episodes, closed_form
):
    algo, train, test, adapted_old = setup(algo_cls, inner_steps, first_order)
    reference = double_backward_fvp(algo, train, test, adapted_old, episodes)
    fisher = AdaptationFisher(
        algo.policy,
        algo.params,
        algo.update_rule().step_sizes,
        [b.subset(episodes) for b in train],
        test.subset(episodes),
        adapted_old,
        first_order,
        closed_form,
    )
    assert fisher.closed_form == closed_form
    generator = torch.Generator().manual_seed(0)
    size = get_flat(algo.meta_parameters()).numel()
    for _ in range(3):
        v = torch.randn(size, generator=generator, dtype=F64)
        expected, got = reference(v), fisher(v)
        assert got.shape == expected.shape
        torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-12 * expected.abs().max())
    assert (v @ fisher(v)).item() > 0  # and it is a Fisher: positive on a random direction


def test_a_vector_of_the_wrong_size_is_refused():
    algo, train, test, adapted_old = setup(MAML, 1, False)
    fisher = AdaptationFisher(algo.policy, algo.params, 0.1, train, test, adapted_old)
    with pytest.raises(ValueError, match="expected a flat vector of"):
        fisher(torch.zeros(3, dtype=F64))


@pytest.mark.parametrize("episodes", [6, 2], ids=["all-episodes", "subset"])
def test_meta_lstm_fisher_is_j_transpose_m_j(episodes):
    """The LSTM rule's gates depend on the data, so its Fisher-vector product is the double
    backward of the straight-through KL (maml.py). It must equal J^T M J built from explicit
    matrices: J the Jacobian of the (subset's) adaptation in theta and the LSTM's weights, M the
    Hessian of the mean KL in the adapted parameters at the ones that sampled D_test."""
    cfg = Config()
    cfg.algo = "meta-lstm"
    cfg.sampler.meta_batch_size, cfg.sampler.episodes_per_task = 2, 6
    cfg.inner.lstm_hidden_size = 3
    cfg.outer.fisher_subsample = episodes / 6
    _, policy, sampler, tasks = make_setup(2, 6, hidden=(4,), horizon=10, dtype=F64)
    algo = MetaLSTM(policy, sampler, cfg)
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():  # heads with weights: the gates vary with the gradient, loss and theta
        for w in algo.rule.weights.values():
            w.add_(0.3 * torch.randn(w.shape, generator=generator, dtype=F64))
    params = {k: v.detach() for k, v in algo.params.items()}
    train = [rollout(sampler, params, tasks, dtype=F64)]
    adapted_old = adapt(policy, params, algo.rule.detached(), train[0])
    test = rollout(sampler, adapted_old, tasks, dtype=F64)
    evaluate, fisher = algo.outer_objective(train, test)
    evaluate(True)
    product = fisher()

    meta = algo.meta_parameters()
    names, rule_names = list(algo.params), list(algo.rule.weights)
    sub_train, sub_test = [b.subset(episodes) for b in train], test.subset(episodes)

    def split(flat):
        pieces, offset = [], 0
        for p in meta:
            pieces.append(flat[offset : offset + p.numel()].view(p.shape))
            offset += p.numel()
        return dict(zip(names, pieces)), dict(zip(rule_names, pieces[len(names) :]))

    def adapted_flat(flat):
        theta, weights = split(flat)
        adapted = adapt_steps(policy, theta, LSTMRule(weights), sub_train)
        return torch.cat([adapted[k].reshape(-1) for k in names])

    obs = sub_test.by_task(sub_test.observations)
    mask = sub_test.by_task(sub_test.mask)
    dist_old = tuple(t.detach() for t in policy.distribution(adapted_old, obs))

    def mean_kl(flat):
        new, offset = {}, 0
        for k in names:
            new[k] = flat[offset : offset + adapted_old[k].numel()].view(adapted_old[k].shape)
            offset += adapted_old[k].numel()
        kl = policy.kl(dist_old, policy.distribution(new, obs))
        return ((kl * mask).sum(1) / mask.sum(1).clamp(min=1)).mean()

    jacobian = torch.autograd.functional.jacobian(adapted_flat, get_flat(meta))
    old_flat = torch.cat([adapted_old[k].reshape(-1) for k in names])
    hessian = torch.autograd.functional.hessian(mean_kl, old_flat)
    explicit = jacobian.T @ hessian @ jacobian
    for _ in range(3):
        v = torch.randn(explicit.shape[0], generator=generator, dtype=F64)
        expected = explicit @ v
        torch.testing.assert_close(
            product(v), expected, rtol=1e-8, atol=1e-10 * expected.abs().max()
        )
    # The LSTM's weights are in it: the rule is meta-learned through the trust region too.
    assert explicit[len(get_flat(list(algo.params.values()))) :].abs().max() > 0
