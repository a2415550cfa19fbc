"""A task family whose task methods live on a `gymnasium.Wrapper`, not on the env it wraps.

`PlainPendulumMass` is an ordinary Gymnasium env that knows nothing of tasks: a damped point mass
on a line, pushed by its action. `TargetWrapper` turns it into a task family: a task is a target
position, the wrapper rewards minus the distance to it, and its legacy `sample_tasks(n)` draws
targets from the wrapper's `np_random` (the wrapped env's, as Gymnasium wrappers share it).
`make_wrapped` is the factory: `--env tests.task_wrappers:make_wrapped`.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np


class PlainPendulumMass(gym.Env):
    """Position and velocity of a damped mass; no tasks, no reward of its own (0)."""

    metadata = {"render_modes": []}

    def __init__(self) -> None:
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(2,), dtype=np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
        self.state = np.zeros(2)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.state = np.array([self.np_random.uniform(-0.1, 0.1), 0.0])
        return self.state.astype(np.float32), {}

    def step(self, action):
        velocity = 0.9 * self.state[1] + 0.1 * float(np.asarray(action).reshape(-1)[0])
        self.state = np.array([self.state[0] + velocity, velocity])
        return self.state.astype(np.float32), 0.0, False, False, {}


class TargetWrapper(gym.Wrapper):
    """Tasks: a target position; reward: minus the distance of the mass to it."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.target = 0.0

    def sample_tasks(self, num_tasks: int) -> list[float]:
        return [float(t) for t in self.np_random.uniform(-1.0, 1.0, size=num_tasks)]

    def set_task(self, task: float) -> None:
        self.target = float(task)

    def get_task(self) -> float:
        return self.target

    def step(self, action):
        obs, _, terminated, truncated, info = self.env.step(action)
        return obs, -abs(float(obs[0]) - self.target), terminated, truncated, info


def make_wrapped() -> gym.Env:
    return TargetWrapper(PlainPendulumMass())
