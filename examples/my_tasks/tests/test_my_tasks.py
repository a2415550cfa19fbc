"""Checks of the example families through every way metarl can find them (pytest examples/my_tasks).

Copy this into your own package: `check_family` is what train.py runs before the first rollout.
"""

from __future__ import annotations

import pickle

import gymnasium as gym
import numpy as np
import pytest
from my_tasks import PUSH_MASS_ID, PushMassEnv

from metarl.check_env import check_family
from metarl.tasks import make_family


@pytest.mark.parametrize(
    ("spec", "imports", "horizon"),
    [
        ("my_tasks.envs:PushMassEnv", [], 100),  # way 1: module:Class (horizon attribute)
        (PUSH_MASS_ID, ["my_tasks"], 100),  # way 2: Gymnasium id (max_episode_steps)
        ("my-family", ["my_tasks"], 100),  # way 3: metarl.register + --import
        ("my-family-ep", [], 100),  # way 3: entry point, no import
        ("my-legacy", ["my_tasks"], 100),  # legacy sample_tasks(n) / reset_task
    ],
)
def test_every_way_in_passes_the_checker(spec: str, imports: list[str], horizon: int) -> None:
    family = make_family(spec, imports=imports)
    assert family.horizon == horizon
    report = check_family(family)
    assert not report.errors and not report.warnings, report.text()


def test_tasks_are_reproducible_plain_data() -> None:
    env = PushMassEnv()
    a = env.sample_tasks(5, np.random.default_rng(0))
    b = env.sample_tasks(5, np.random.default_rng(0))
    assert a == b and len(a) == 5
    assert pickle.loads(pickle.dumps(a)) == a
    assert all(-1 <= t["goal"] <= 1 and 0.5 <= t["mass"] <= 2 for t in a)


def test_reward_is_the_sum_of_its_components() -> None:
    env = gym.make(PUSH_MASS_ID)
    env.unwrapped.set_task({"goal": 0.3, "mass": 1.0, "friction": 0.1})  # type: ignore[attr-defined]
    env.reset(seed=0)
    _, reward, _, _, info = env.step(np.array([0.5], dtype=np.float32))
    assert reward == pytest.approx(info["reward_dist"] + info["reward_ctrl"])
    steps = 1
    truncated = False
    while not truncated:
        *_, truncated, _ = env.step(env.action_space.sample())
        steps += 1
    assert steps == 100  # the Gymnasium registration's max_episode_steps
