"""A task family written the way learn2learn, garage and pytorch-maml-rl write theirs.

`sample_tasks(num_tasks)` takes no rng and draws from numpy's global state, and the task is set
with `reset_task(task)`. metarl accepts both as they are: it seeds numpy's global state from its
own generator before each legacy `sample_tasks` call, and calls `reset_task` when there is no
`set_task`. Nothing here imports metarl.

=====================  ===============================================================
Observation            Box(-inf, inf, (1,), float32): the velocity v of a point on a line
Action                 Box(-1, 1, (1,), float32): an acceleration a, clipped
Start                  v = 0
Task                   {"velocity": u}, u ~ U[-1, 1] (the target speed, not observed)
Dynamics (dt = 0.1)    v <- v + dt * a
Reward                 forward_reward + reward_ctrl, both in `info`:
                       forward_reward = -|v - u|, reward_ctrl = -0.05 * a^2
Termination            none
Horizon                none declared: register it with a horizon (my_tasks/__init__.py uses
                       100) or set env.horizon, else metarl warns and uses 200
=====================  ===============================================================
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np


class LegacyReachSpeedEnv(gym.Env[np.ndarray, np.ndarray]):
    """Reach a target speed (HalfCheetahVel's task distribution on a 1D point)."""

    def __init__(self, task: dict[str, float] | None = None) -> None:
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(1,), dtype=np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
        self._task = task or {"velocity": 0.5}
        self._goal_velocity = self._task["velocity"]
        self._v = 0.0

    def sample_tasks(self, num_tasks: int) -> list[dict[str, float]]:
        velocities = np.random.uniform(-1.0, 1.0, size=(num_tasks,))
        return [{"velocity": float(u)} for u in velocities]

    def reset_task(self, task: dict[str, float]) -> None:
        self._task = task
        self._goal_velocity = task["velocity"]

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self._v = 0.0
        return np.array([self._v], dtype=np.float32), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        a = float(np.clip(np.asarray(action, dtype=np.float64).reshape(-1)[0], -1.0, 1.0))
        self._v += 0.1 * a
        forward_reward = -abs(self._v - self._goal_velocity)
        reward_ctrl = -0.05 * a**2
        info = {"forward_reward": forward_reward, "reward_ctrl": reward_ctrl, "task": self._task}
        obs = np.array([self._v], dtype=np.float32)
        return obs, forward_reward + reward_ctrl, False, False, info
