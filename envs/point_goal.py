"""2D point mass that must reach a goal: the `point-goal` task family of the MAML paper (Sec. 5.2).

=====================  ==========================================================
Observation            Box(-inf, inf, (2,), float32): the agent's position (x, y)
Action                 Box(-0.1, 0.1, (2,), float32): a displacement, clipped to the bounds
Start                  (0, 0)
Task                   {"goal": array([gx, gy])}, gx, gy ~ U[-0.5, 0.5]
Reward                 -||p_{t+1} - goal||_2, after the move
Termination            |x - gx| < 0.01 and |y - gy| < 0.01
Horizon                100 (set at registration, as Gymnasium does for its own envs)
=====================  ==========================================================

Two implementations share these numbers: `PointGoalEnv`, a plain Gymnasium env (what users and the
env checker see), and `PointGoalVectorEnv`, a natively batched torch env that steps all
tasks x episodes at once on the CPU or the GPU. `tests/test_point_goal.py` holds them equal.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch

GOAL_LOW, GOAL_HIGH = -0.5, 0.5
ACTION_BOUND = 0.1
SUCCESS_TOLERANCE = 0.01
HORIZON = 100


def sample_goals(n: int, rng: np.random.Generator) -> list[dict[str, np.ndarray]]:
    goals = rng.uniform(GOAL_LOW, GOAL_HIGH, size=(n, 2))
    return [{"goal": g.astype(np.float64)} for g in goals]


class PointGoalEnv(gym.Env):
    """Gymnasium form of point-goal; see the module docstring for spaces and reward."""

    metadata = {"render_modes": []}

    def __init__(self, task: dict[str, Any] | None = None) -> None:
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(2,), dtype=np.float32)
        self.action_space = gym.spaces.Box(
            -ACTION_BOUND, ACTION_BOUND, shape=(2,), dtype=np.float32
        )
        self._task = task or {"goal": np.zeros(2)}
        self._goal = np.asarray(self._task["goal"], dtype=np.float64)
        self._pos = np.zeros(2, dtype=np.float64)

    def sample_tasks(self, n: int, rng: np.random.Generator) -> list[dict[str, np.ndarray]]:
        return sample_goals(n, rng)

    def paper_tasks(self, n: int) -> list[dict[str, np.ndarray]]:
        """The MAML paper's 40 test goals (eval.tasks: paper), as its evaluation script
        (maml_examples/test_maml_point.py in cbfinn/maml_rl) draws them: np.random.seed(1);
        np.random.uniform(-0.5, 0.5, size=(40, 2))."""
        goals = np.random.RandomState(1).uniform(GOAL_LOW, GOAL_HIGH, size=(n, 2))
        return [{"goal": g.astype(np.float64)} for g in goals]

    def set_task(self, task: dict[str, Any]) -> None:
        self._task = task
        self._goal = np.asarray(task["goal"], dtype=np.float64)

    def get_task(self) -> dict[str, Any]:
        return self._task

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._pos = np.zeros(2, dtype=np.float64)
        return self._pos.astype(np.float32), {}

    def step(self, action):
        action = np.clip(np.asarray(action, dtype=np.float64), -ACTION_BOUND, ACTION_BOUND)
        self._pos = self._pos + action
        delta = self._pos - self._goal
        reward = -float(np.sqrt((delta**2).sum()))
        terminated = bool(np.all(np.abs(delta) < SUCCESS_TOLERANCE))
        return self._pos.astype(np.float32), reward, terminated, False, {"distance": -reward}


class PointGoalVectorEnv:
    """All tasks x episodes of point-goal stepped as one tensor operation on `device`.

    Sub-env j runs task `tasks[j]`; no Python loop and no host synchronisation per step.
    """

    obs_dim = 2
    act_dim = 2

    def __init__(self, num_envs: int, device: torch.device | str = "cpu") -> None:
        self.num_envs = num_envs
        self.device = torch.device(device)
        self._goals = torch.zeros(num_envs, 2, device=self.device)
        self._pos = torch.zeros(num_envs, 2, device=self.device)

    def set_tasks(self, tasks: list[dict[str, Any]]) -> None:
        if len(tasks) != self.num_envs:
            raise ValueError(f"expected {self.num_envs} tasks (one per sub-env), got {len(tasks)}")
        goals = np.stack([np.asarray(t["goal"], dtype=np.float32) for t in tasks])
        # One host-to-device copy per sampling phase, not per step.
        self._goals = torch.as_tensor(goals, device=self.device)

    def reset(self) -> torch.Tensor:
        self._pos = torch.zeros(self.num_envs, 2, device=self.device)
        return self._pos.clone()

    def step(self, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Returns (next_obs [M, 2], reward [M], terminated [M] bool)."""
        self._pos = self._pos + actions.clamp(-ACTION_BOUND, ACTION_BOUND)
        delta = self._pos - self._goals
        reward = -torch.linalg.vector_norm(delta, dim=-1)
        terminated = (delta.abs() < SUCCESS_TOLERANCE).all(dim=-1)
        return self._pos.clone(), reward, terminated

    def close(self) -> None:
        pass
