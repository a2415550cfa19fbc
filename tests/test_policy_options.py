"""The policy options of the point-goal recipe: rllab's initialisation (policy.init: xavier) and a
floor on the meta-policy's sigma (policy.min_std)."""

from __future__ import annotations

import math

import pytest
import torch

from metarl.algos import MAML, MetaSGD, Reptile
from metarl.build import build_policy
from metarl.config import build_config
from metarl.policy import GaussianMLPPolicy
from metarl.tasks import make_family
from tests.conftest import make_setup


def point_goal_policy(*overrides):
    cfg = build_config("maml", "point-goal", overrides=list(overrides))
    return build_policy(cfg, make_family("point-goal"))


def test_xavier_init_has_zero_biases_and_glorot_bounded_weights():
    torch.manual_seed(0)
    policy = point_goal_policy("policy.init=xavier")
    for layer in policy.layers:
        assert torch.count_nonzero(layer.bias) == 0
        fan_out, fan_in = layer.weight.shape
        bound = math.sqrt(6 / (fan_in + fan_out))
        assert layer.weight.abs().max() <= bound
        assert layer.weight.abs().max() > 0.9 * bound  # uniform over the whole range
    # Zero biases: the mean action at point-goal's start (the origin) is exactly 0.
    mean, _ = policy.distribution(policy.params(), torch.zeros(1, 2))
    assert torch.equal(mean, torch.zeros(1, 2))


def test_torch_init_is_nn_linears_own():
    torch.manual_seed(0)
    built = point_goal_policy("policy.init=torch")
    torch.manual_seed(0)
    plain = GaussianMLPPolicy(2, 2, (100, 100))
    for a, b in zip(built.parameters(), plain.parameters()):
        assert torch.equal(a, b)
    assert torch.count_nonzero(built.layers[0].bias) > 0


@pytest.mark.parametrize("algo_cls", [MAML, MetaSGD, Reptile])
def test_min_std_restores_the_floor_after_every_outer_update(algo_cls):
    _, policy, sampler, tasks = make_setup(3, 4, hidden=(6, 6), horizon=10)
    cfg = build_config(
        "reptile" if algo_cls is Reptile else "maml", "point-goal", overrides=["policy.min_std=0.5"]
    )
    cfg.sampler.meta_batch_size, cfg.sampler.episodes_per_task = 3, 4
    algo = algo_cls(policy, sampler, cfg)
    with torch.no_grad():
        algo.params["log_std"].copy_(torch.tensor([-2.0, math.log(0.7)]))
    before = {k: v.detach().clone() for k, v in algo.params.items()}
    algo.iterate(tasks)
    log_std = algo.params["log_std"].detach()
    # Below the floor: lifted exactly onto it; above it, the update's own value (it moved).
    assert log_std[0] == pytest.approx(math.log(0.5))
    assert log_std[1] >= math.log(0.5)
    assert not torch.equal(algo.params["layers.0.weight"], before["layers.0.weight"])


def test_without_a_floor_sigma_is_left_where_the_update_puts_it():
    _, policy, sampler, tasks = make_setup(3, 4, hidden=(6, 6), horizon=10)
    cfg = build_config("maml", "point-goal")
    cfg.sampler.meta_batch_size, cfg.sampler.episodes_per_task = 3, 4
    algo = MAML(policy, sampler, cfg)
    with torch.no_grad():
        algo.params["log_std"].fill_(-2.0)
    algo.iterate(tasks)
    assert (algo.params["log_std"] < math.log(0.5)).all()
