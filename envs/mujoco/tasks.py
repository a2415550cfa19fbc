"""The two kinds of locomotion task of the MAML paper, shared by the cheetah and ant families.

A family class lists one of these mixins before its env class, and sets `velocity_range` (and
`forward_bonus`) or nothing: the mixin supplies sample_tasks, set_task (the only place the task
changes; it stays fixed across reset), get_task, and the task's part of the reward.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def task_value(task: Any, key: str, cls: type) -> float:
    """task[key] as a float, or a ValueError saying what a task of `cls` looks like."""
    if not isinstance(task, dict) or key not in task:
        raise ValueError(
            f"{cls.__name__}.set_task: expected a task {{'{key}': float}} as sample_tasks returns, "
            f"got {task!r}. Likely cause: a task of another family. Pass one of "
            f"{cls.__name__}().sample_tasks(n, rng)."
        )
    return float(task[key])


class VelocityTasks:
    """Task {"velocity": v_goal}, v_goal ~ U[velocity_range]; forward reward
    -|v_x - v_goal| + forward_bonus."""

    velocity_range: tuple[float, float]
    forward_bonus = 0.0

    def sample_tasks(self, n: int, rng: np.random.Generator) -> list[dict[str, float]]:
        return [{"velocity": float(v)} for v in rng.uniform(*self.velocity_range, size=n)]

    def set_task(self, task: dict[str, Any]) -> None:
        self._goal_velocity = task_value(task, "velocity", type(self))
        self._task = {"velocity": self._goal_velocity}

    def get_task(self) -> dict[str, float]:
        return self._task

    def _forward_reward(self, x_velocity: float) -> float:
        return -abs(x_velocity - self._goal_velocity) + self.forward_bonus

    def _task_info(self) -> dict[str, float]:
        return {"goal_velocity": self._goal_velocity}


class DirectionTasks:
    """Task {"direction": d}, d = -1 or +1 with probability 1/2 each; forward reward d v_x."""

    def sample_tasks(self, n: int, rng: np.random.Generator) -> list[dict[str, float]]:
        # As rllab: backward if a uniform draw falls below the middle of its range.
        return [{"direction": -1.0 if u < 0.5 else 1.0} for u in rng.uniform(size=n)]

    def set_task(self, task: dict[str, Any]) -> None:
        direction = task_value(task, "direction", type(self))
        if direction not in (-1.0, 1.0):
            raise ValueError(
                f"{type(self).__name__}.set_task: expected a direction of -1.0 or 1.0, got "
                f"{direction}."
            )
        self._direction = direction
        self._task = {"direction": direction}

    def get_task(self) -> dict[str, float]:
        return self._task

    def _forward_reward(self, x_velocity: float) -> float:
        return self._direction * x_velocity

    def _task_info(self) -> dict[str, float]:
        return {"direction": self._direction}
