"""The two kinds of locomotion task of the MAML paper, shared by the cheetah and ant families.

A family class lists one of these mixins before its env class, and sets `velocity_range` (and
`forward_bonus`) or nothing: the mixin supplies sample_tasks, set_task (the only place the task
changes; it stays fixed across reset), get_task, and the task's part of the reward.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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


class _Tasks:
    """The forward reward as one formula of (v_x, the task's number), for one env (its step) and
    for a block of envs at once (envs/mujoco/block_step.py): the same float64 operations."""

    _task_number: float  # the goal velocity, or the direction
    paper_tasks_seed = 1
    """The numpy seed of the MAML paper's evaluation script for this family (paper_tasks)."""

    @classmethod
    def _forward_formula(cls, x_velocity: Any, number: Any) -> Any:
        raise NotImplementedError

    def _forward_reward(self, x_velocity: float) -> float:
        return self._forward_formula(x_velocity, self._task_number)

    @classmethod
    def block_forward_rewards(cls, envs: Sequence[Any]) -> Callable[[np.ndarray], np.ndarray]:
        """x velocities of `envs` -> each env's forward reward, for its current task."""

        def rewards(x_velocity: np.ndarray) -> np.ndarray:
            numbers = np.array([env._task_number for env in envs], dtype=np.float64)
            return cls._forward_formula(x_velocity, numbers)

        return rewards


class VelocityTasks(_Tasks):
    """Task {"velocity": v_goal}, v_goal ~ U[velocity_range]; forward reward
    -|v_x - v_goal| + forward_bonus."""

    velocity_range: tuple[float, float]
    forward_bonus = 0.0

    def sample_tasks(self, n: int, rng: np.random.Generator) -> list[dict[str, float]]:
        return [{"velocity": float(v)} for v in rng.uniform(*self.velocity_range, size=n)]

    def paper_tasks(self, n: int) -> list[dict[str, float]]:
        """The MAML paper's test goals (eval.tasks: paper): its evaluation scripts
        (maml_examples/test_maml_cheetah.py, test_maml_ant.py in cbfinn/maml_rl) draw 40 goal
        velocities as np.random.seed(1); np.random.uniform(low, high, 40)."""
        goals = np.random.RandomState(self.paper_tasks_seed).uniform(*self.velocity_range, size=n)
        return [{"velocity": float(v)} for v in goals]

    def set_task(self, task: dict[str, Any]) -> None:
        self._task_number = task_value(task, "velocity", type(self))
        self._task = {"velocity": self._task_number}

    def get_task(self) -> dict[str, float]:
        return self._task

    @classmethod
    def _forward_formula(cls, x_velocity: Any, goal_velocity: Any) -> Any:
        return -abs(x_velocity - goal_velocity) + cls.forward_bonus

    def _task_info(self) -> dict[str, float]:
        return {"goal_velocity": self._task_number}


class DirectionTasks(_Tasks):
    """Task {"direction": d}, d = -1 or +1 with probability 1/2 each; forward reward d v_x."""

    def sample_tasks(self, n: int, rng: np.random.Generator) -> list[dict[str, float]]:
        # As rllab: backward if a uniform draw falls below the middle of its range.
        return [{"direction": -1.0 if u < 0.5 else 1.0} for u in rng.uniform(size=n)]

    def paper_tasks(self, n: int) -> list[dict[str, float]]:
        """The MAML paper's test tasks (eval.tasks: paper): its evaluation scripts draw 40 goals
        as np.random.seed(s); np.random.uniform(0, b, 40) and run backward below b / 2
        (test_maml_cheetah_direc.py: s = 1, b = 2; test_maml_ant_direc.py: s = 2, b = 3). Only
        whether a draw falls below the middle matters, so one U[0, 1) draw stands for it."""
        draws = np.random.RandomState(self.paper_tasks_seed).uniform(size=n)
        return [{"direction": -1.0 if u < 0.5 else 1.0} for u in draws]

    def set_task(self, task: dict[str, Any]) -> None:
        direction = task_value(task, "direction", type(self))
        if direction not in (-1.0, 1.0):
            raise ValueError(
                f"{type(self).__name__}.set_task: expected a direction of -1.0 or 1.0, got "
                f"{direction}."
            )
        self._task_number = direction
        self._task = {"direction": direction}

    def get_task(self) -> dict[str, float]:
        return self._task

    @classmethod
    def _forward_formula(cls, x_velocity: Any, direction: Any) -> Any:
        return direction * x_velocity

    def _task_info(self) -> dict[str, float]:
        return {"direction": self._task_number}
