"""Task families written for the old `gym` package, the way meta-RL code of 2017-2022 was written.

metarl must run them unchanged (tests/test_legacy_families.py). Both subclass `gym.Env` from the
`gym` package, not gymnasium, and draw their tasks and their noise from the env's own
`self.np_random`:

- `WindyGoalEnv` is in the style of gym <= 0.21: `reset()` takes no seed and returns only the
  observation, `step()` returns (obs, reward, done, info), the env seeds itself through its own
  `seed()` method, tasks come from `sample_tasks(num_tasks)` and are set by `reset_task(task)`,
  and the horizon lives only in the old registry (`LegacyWindyGoal-v0`, max_episode_steps 25).
- `DriftingTargetEnv` is in the style of gym 0.26: `reset(seed=...)` returning (obs, info) and the
  5-tuple step, tasks from `sample_tasks(n)` with `set_task` / `get_task`; its horizon is a
  `max_path_length` attribute.

A point on a line or a plane is pushed by its action and by a task-dependent wind or drift, plus
Gaussian noise; the reward is minus the distance to the task's goal. Usable as
`--env tests.old_gym_tasks:WindyGoalEnv` or `--import tests.old_gym_tasks --env
LegacyWindyGoal-v0` from the repository root.
"""

from __future__ import annotations

import gym
import numpy as np
from gym import spaces
from gym.utils import seeding


class WindyGoalEnv(gym.Env):
    """2D point; task: a goal in [-1, 1]^2 and a wind vector; observation: the position."""

    def __init__(self, task: dict | None = None, noise: float = 0.01) -> None:
        self.noise = noise
        self.observation_space = spaces.Box(-np.inf, np.inf, shape=(2,), dtype=np.float32)
        self.action_space = spaces.Box(-0.2, 0.2, shape=(2,), dtype=np.float32)
        self.seed()
        self.reset_task(task or {"goal": np.zeros(2), "wind": np.zeros(2)})
        self._position = np.zeros(2)

    def seed(self, seed: int | None = None) -> list[int]:
        self.np_random, seed = seeding.np_random(seed)
        return [seed]

    def sample_tasks(self, num_tasks: int) -> list[dict]:
        goals = self.np_random.uniform(-1.0, 1.0, size=(num_tasks, 2))
        winds = self.np_random.uniform(-0.05, 0.05, size=(num_tasks, 2))
        return [{"goal": g, "wind": w} for g, w in zip(goals, winds)]

    def reset_task(self, task: dict) -> None:
        self._task = task
        self._goal = np.asarray(task["goal"], dtype=np.float64)
        self._wind = np.asarray(task["wind"], dtype=np.float64)

    def reset(self) -> np.ndarray:
        self._position = self.np_random.uniform(-0.05, 0.05, size=2)
        return self._position.astype(np.float32)

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, dict]:
        action = np.clip(action, self.action_space.low, self.action_space.high)
        push = action + self._wind + self.noise * self.np_random.standard_normal(2)
        self._position = self._position + push
        distance = float(np.linalg.norm(self._position - self._goal))
        done = distance < 0.01
        return self._position.astype(np.float32), -distance, done, {"task": self._task}


class DriftingTargetEnv(gym.Env):
    """1D point; task: a target in [-2, 2] and a drift; observation: position and velocity."""

    max_path_length = 30

    def __init__(self) -> None:
        self.observation_space = spaces.Box(-np.inf, np.inf, shape=(2,), dtype=np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
        self._task = {"target": 0.0, "drift": 0.0}
        self._state = np.zeros(2)

    def sample_tasks(self, n: int) -> list[dict]:
        targets = self.np_random.uniform(-2.0, 2.0, size=n)
        drifts = self.np_random.normal(0.0, 0.02, size=n)
        return [{"target": float(t), "drift": float(d)} for t, d in zip(targets, drifts)]

    def set_task(self, task: dict) -> None:
        self._task = dict(task)

    def get_task(self) -> dict:
        return self._task

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._state = np.array([self.np_random.normal(0.0, 0.1), 0.0])
        return self._state.astype(np.float32), {}

    def step(self, action: np.ndarray):
        velocity = 0.8 * self._state[1] + 0.1 * float(action[0]) + self._task["drift"]
        velocity += 0.005 * self.np_random.standard_normal()
        self._state = np.array([self._state[0] + velocity, velocity])
        reward = -abs(self._state[0] - self._task["target"])
        return self._state.astype(np.float32), reward, False, False, {}


gym.register(
    id="LegacyWindyGoal-v0",
    entry_point="tests.old_gym_tasks:WindyGoalEnv",
    max_episode_steps=25,
)
