"""Multi-armed Bernoulli bandits: the `bandit` task family (discrete actions).

=====================  ==========================================================
Observation            Box(0, 1, (1,), float32): always [1.0] (a bandit has no state)
Action                 Discrete(5): the arm to pull
Task                   {"probs": array of 5 success probabilities}, each ~ U[0, 1]
Reward                 1 with probability probs[arm], else 0
Termination            never; the horizon (10 pulls) ends the episode
=====================  ==========================================================

Meta-learning must find a policy that one policy-gradient step on a few episodes turns towards the
task's best arm, as in the bandit experiments of the meta-RL literature (Duan et al. 2016, RL^2).
The reward draws come from the env's own `np_random`, so a seed reproduces them.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

NUM_ARMS = 5
HORIZON = 10


class BanditEnv(gym.Env):
    metadata = {"render_modes": []}

    def __init__(self, num_arms: int = NUM_ARMS, task: dict[str, Any] | None = None) -> None:
        self.num_arms = num_arms
        self.observation_space = gym.spaces.Box(0.0, 1.0, shape=(1,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(num_arms)
        self._task = task or {"probs": np.full(num_arms, 0.5)}
        self._obs = np.ones(1, dtype=np.float32)

    def sample_tasks(self, n: int, rng: np.random.Generator) -> list[dict[str, np.ndarray]]:
        return [{"probs": rng.uniform(0.0, 1.0, size=self.num_arms)} for _ in range(n)]

    def set_task(self, task: dict[str, Any]) -> None:
        self._task = task

    def get_task(self) -> dict[str, Any]:
        return self._task

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        return self._obs.copy(), {}

    def step(self, action):
        arm = int(action)
        if not 0 <= arm < self.num_arms:
            raise ValueError(f"action must be an arm in [0, {self.num_arms}), got {action!r}")
        prob = float(self._task["probs"][arm])
        reward = float(self.np_random.random() < prob)
        return self._obs.copy(), reward, False, False, {"arm": arm, "success_prob": prob}
