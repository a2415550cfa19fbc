"""Small task families for the env checker's tests: one valid family and deliberately broken ones.

`ValidFamily` is a 2D point that moves by 0.1 x its action and is rewarded by minus its distance to
the task's goal. Every other class breaks exactly one rule of the task-family contract (see
metarl/tasks.py), so that a test can check that the checker names that problem and its fix.
Usable as `--env tests.broken_families:ClassName` from the repository root.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

Task = dict[str, Any]


class _Point(gym.Env):
    """A 2D point; reward -||pos - goal||. No task methods: the mixins below add them."""

    metadata = {"render_modes": []}
    horizon = 10

    def __init__(self) -> None:
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(2,), dtype=np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self.task: Task = {"goal": np.zeros(2)}
        self.goal = np.zeros(2)
        self.pos = np.zeros(2)

    def _obs(self) -> np.ndarray:
        return self.pos.astype(np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.pos = self.np_random.uniform(-0.1, 0.1, size=2)  # seeded: reproducible starts
        return self._obs(), {}

    def step(self, action):
        self.pos = self.pos + 0.1 * np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
        reward = -float(np.linalg.norm(self.pos - self.goal))
        return self._obs(), reward, False, False, {}


class _SampleTasks:
    def sample_tasks(self, n: int, rng: np.random.Generator) -> list[Task]:
        return [{"goal": goal} for goal in rng.uniform(-1.0, 1.0, size=(n, 2))]


class _SetTask:
    def set_task(self, task: Task) -> None:
        self.task = task
        self.goal = np.asarray(task["goal"], dtype=np.float64)

    def get_task(self) -> Task:
        return self.task


class ValidFamily(_SampleTasks, _SetTask, _Point):
    """The reference: passes every check without a warning."""


class DiscreteFamily(ValidFamily):
    """Valid too: four moves (a categorical policy), the index starting at 1."""

    MOVES = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])

    def __init__(self) -> None:
        super().__init__()
        self.action_space = gym.spaces.Discrete(4, start=1)

    def step(self, action):
        return super().step(self.MOVES[int(action) - 1])


class LegacyFamily(_Point):
    """learn2learn / pytorch-maml-rl style: sample_tasks(n) on numpy's global RNG, reset_task."""

    def sample_tasks(self, num_tasks: int) -> list[Task]:
        return [{"goal": goal} for goal in np.random.uniform(-1.0, 1.0, size=(num_tasks, 2))]

    def reset_task(self, task: Task) -> None:
        self.goal = np.asarray(task["goal"], dtype=np.float64)


# --- broken task methods ---------------------------------------------------------------------


class NoSetTask(_SampleTasks, _Point):
    """Has sample_tasks but no set_task (a typo'd name instead)."""

    def set_tasks(self, task: Task) -> None:
        self.goal = np.asarray(task["goal"])


class NoSampleTasks(_SetTask, _Point):
    """Has set_task but no sample_tasks."""


class SampleTasksBadSignature(ValidFamily):
    """sample_tasks needs a third argument metarl cannot give."""

    def sample_tasks(self, n: int, rng: np.random.Generator, difficulty: float) -> list[Task]:
        return super().sample_tasks(n, rng)


class SetTaskNoArgument(_SampleTasks, _Point):
    """set_task takes no task."""

    def set_task(self) -> None:
        self.goal = np.ones(2)


class SampleTasksReturnsNone(ValidFamily):
    """Forgot the return statement."""

    def sample_tasks(self, n: int, rng: np.random.Generator) -> list[Task]:
        super().sample_tasks(n, rng)  # type: ignore[return-value]


class SampleTasksWrongCount(ValidFamily):
    def sample_tasks(self, n: int, rng: np.random.Generator) -> list[Task]:
        return super().sample_tasks(n + 1, rng)


class SampleTasksIgnoresRng(ValidFamily):
    """Draws from numpy's global RNG although it is given a generator."""

    def sample_tasks(self, n: int, rng: np.random.Generator) -> list[Task]:
        return [{"goal": goal} for goal in np.random.uniform(-1.0, 1.0, size=(n, 2))]


class IdenticalTasks(ValidFamily):
    """Every sampled task is the same one."""

    def sample_tasks(self, n: int, rng: np.random.Generator) -> list[Task]:
        return [{"goal": np.array([0.5, 0.5])} for _ in range(n)]


class TasksChangeNothing(ValidFamily):
    """set_task stores the task where step() never reads it."""

    def set_task(self, task: Task) -> None:
        self.task = task


class ResetForgetsTask(ValidFamily):
    """reset() puts the goal back to its default: the task does not survive reset()."""

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        self.goal = np.zeros(2)
        return super().reset(seed=seed, options=options)


class UnpicklableTasks(ValidFamily):
    """Tasks hold a lambda."""

    def sample_tasks(self, n: int, rng: np.random.Generator) -> list[Task]:
        return [{**task, "shaping": lambda d: -d} for task in super().sample_tasks(n, rng)]


class SetTaskRaises(ValidFamily):
    def set_task(self, task: Task) -> None:
        raise KeyError("target_velocity")


# --- broken spaces and observations ----------------------------------------------------------


class WrongObsShape(ValidFamily):
    """Observations have 3 entries; the observation space says 2."""

    def _obs(self) -> np.ndarray:
        return np.append(self.pos, 0.0).astype(np.float32)


class ObsDtypeMismatch(ValidFamily):
    """float64 observations in a float32 Box."""

    def _obs(self) -> np.ndarray:
        return self.pos.copy()


class NonFiniteObs(ValidFamily):
    def step(self, action):
        obs, reward, terminated, truncated, info = super().step(action)
        return np.full(2, np.nan, dtype=np.float32), reward, terminated, truncated, info


class InfiniteActionBounds(ValidFamily):
    def __init__(self) -> None:
        super().__init__()
        self.action_space = gym.spaces.Box(-np.inf, np.inf, shape=(2,), dtype=np.float32)


class MultiDiscreteActions(ValidFamily):
    """A structured action space no metarl policy produces."""

    def __init__(self) -> None:
        super().__init__()
        self.action_space = gym.spaces.MultiDiscrete([3, 3])


class DictObservations(ValidFamily):
    def __init__(self) -> None:
        super().__init__()
        self.observation_space = gym.spaces.Dict({"pos": self.observation_space})


# --- broken reset / step ---------------------------------------------------------------------


class FourTupleStep(ValidFamily):
    """gym < 0.26 API: step returns (obs, reward, done, info)."""

    def step(self, action):
        obs, reward, terminated, truncated, info = super().step(action)
        return obs, reward, terminated or truncated, info


class OldResetAPI(ValidFamily):
    """gym < 0.26 API: reset returns only the observation."""

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        return super().reset(seed=seed, options=options)[0]


class InfoNotADict(ValidFamily):
    """step() returns None where Gymnasium expects the info dict."""

    def step(self, action):
        obs, reward, terminated, truncated, _ = super().step(action)
        return obs, reward, terminated, truncated, None


class StepRaises(ValidFamily):
    def step(self, action):
        raise RuntimeError("simulation diverged")


class Unseeded(ValidFamily):
    """Start positions from a generator reset(seed=...) does not control."""

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.pos = np.random.default_rng().uniform(-0.1, 0.1, size=2)
        return self._obs(), {}


# --- not even an env -------------------------------------------------------------------------


class ConstructorRaises(ValidFamily):
    def __init__(self) -> None:
        raise FileNotFoundError("assets/point.xml")


class NotAnEnv(_SampleTasks, _SetTask):
    """Has the task methods, but is not a gymnasium.Env."""

    horizon = 10
