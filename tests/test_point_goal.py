import gymnasium as gym
import numpy as np
import pytest
import torch

from metarl import envs
from metarl.check_env import check_family
from metarl.envs.point_goal import PointGoalEnv, PointGoalVectorEnv
from metarl.policy import GaussianMLPPolicy
from metarl.sampler import Sampler
from metarl.tasks import make_family


def test_registered_with_gymnasium():
    env = gym.make(envs.POINT_GOAL_ID)
    assert env.spec.max_episode_steps == 100
    env.unwrapped.set_task({"goal": np.array([0.3, -0.2])})
    obs, _ = env.reset(seed=0)
    assert obs.shape == (2,) and obs.dtype == np.float32


def test_reward_after_the_move_and_clipping():
    env = PointGoalEnv({"goal": np.array([0.3, 0.4])})
    env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(np.array([1.0, -1.0]))  # clipped to 0.1
    assert np.allclose(obs, [0.1, -0.1])
    assert reward == pytest.approx(-np.hypot(0.2, 0.5))
    assert not terminated and not truncated


def test_terminates_within_tolerance_per_axis():
    env = PointGoalEnv({"goal": np.array([0.1, 0.005])})
    env.reset(seed=0)
    _, _, terminated, _, _ = env.step(np.array([0.095, 0.0]))
    assert terminated


def test_task_survives_reset():
    env = PointGoalEnv()
    env.set_task({"goal": np.array([0.2, 0.2])})
    env.reset(seed=1)
    env.reset(seed=2)
    assert np.allclose(env.get_task()["goal"], [0.2, 0.2])


def test_native_vector_env_matches_gymnasium_step_for_step():
    rng = np.random.default_rng(0)
    tasks = PointGoalEnv().sample_tasks(6, rng)
    vec = PointGoalVectorEnv(6)
    vec.set_tasks(tasks)
    envs_ = [PointGoalEnv(t) for t in tasks]
    obs_v = vec.reset()
    obs_g = np.stack([e.reset(seed=0)[0] for e in envs_])
    assert np.allclose(obs_v.numpy(), obs_g)
    done = np.zeros(6, dtype=bool)
    for _ in range(100):
        actions = rng.normal(0, 0.15, size=(6, 2)).astype(np.float32)  # some beyond the clip
        obs_v, rew_v, term_v = vec.step(torch.as_tensor(actions))
        for j, env in enumerate(envs_):
            if done[j]:
                continue
            o, r, term, _, _ = env.step(actions[j])
            assert np.allclose(obs_v[j].numpy(), o, atol=1e-5)
            assert rew_v[j].item() == pytest.approx(r, abs=1e-5)
            assert bool(term_v[j]) == term
            done[j] = term


def test_env_checker_passes_on_point_goal():
    report = check_family(make_family("point-goal"))
    assert report.errors == [] and report.warnings == []


@pytest.mark.parametrize("scale", [1.0, 0.1])
def test_action_scale_moves_the_env_by_the_scaled_clipped_action(scale):
    family = make_family("point-goal", horizon=10)
    policy = GaussianMLPPolicy(2, 2, (8,), init_log_std=0.0)
    sampler = Sampler(family, policy, 2, 3, torch.device("cpu"), seed=0, action_scale=scale)
    tasks = family.sample_tasks(2, np.random.default_rng(0))
    episodes = sampler.sample(policy.params(), tasks)
    moves = episodes.observations[1:] - episodes.observations[:-1]
    expected = (scale * episodes.actions[:-1]).clamp(-0.1, 0.1)
    alive = episodes.mask[1:].bool()
    assert torch.allclose(moves[alive], expected[alive], atol=1e-6)
    # With sigma = 1 most unscaled actions sit at the bound; scaled by 0.1 most are inside it.
    inside = (expected.abs() < 0.1 - 1e-6).float().mean()
    assert (inside > 0.5) == (scale == 0.1)
