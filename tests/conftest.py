"""Shared fixtures: a tiny point-goal setup whose episodes are real rollouts."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from metarl.baseline import estimate_advantages
from metarl.policy import GaussianMLPPolicy
from metarl.sampler import Sampler
from metarl.tasks import make_family


def make_setup(num_tasks=3, episodes=4, hidden=(8, 8), horizon=15, seed=0, dtype=torch.float32):
    torch.manual_seed(seed)
    family = make_family("point-goal", horizon=horizon)
    policy = GaussianMLPPolicy(2, 2, hidden, init_log_std=-1.0).to(dtype)
    sampler = Sampler(family, policy, num_tasks, episodes, torch.device("cpu"), seed=seed)
    tasks = family.sample_tasks(num_tasks, np.random.default_rng(seed))
    return family, policy, sampler, tasks


def rollout(sampler, params, tasks, dtype=torch.float32):
    episodes = sampler.sample(params, tasks)
    for name in ("observations", "actions", "rewards", "mask"):
        setattr(episodes, name, getattr(episodes, name).to(dtype))
    return estimate_advantages(episodes, gamma=0.99, lam=1.0, normalize=True)


@pytest.fixture
def setup():
    return make_setup()
