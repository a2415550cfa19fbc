"""A block of Gymnasium sub-envs stepped serially in numpy: the one stepping loop behind the
in-process batched env and every worker of the parallel one, so that both give the same bits.

This module imports no torch: sampler workers import it, and stay small and quick to start.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Protocol

import gymnasium as gym
import numpy as np

from metarl.errors import EnvError, SubEnvError
from metarl.task_methods import SETTERS, find_method, innermost

Task = Any

# Columns of the packed output row of a sub-env: observation..., reward, done, success. One array,
# so that a step's results cross to the learner's device in one transfer. success is the step's
# info["success"] (Meta-World), NaN when the env does not report one.
REWARD, DONE, SUCCESS = -3, -2, -1
OUT_COLUMNS = 3
"""Columns after the observation: a packed row is obs_dim + OUT_COLUMNS wide."""


def task_setter(env: gym.Env) -> Callable[[Task], None]:
    """The env's set_task (or reset_task), on the env or on a wrapper around it."""
    found = find_method(env, SETTERS)
    if found is None:
        raise EnvError(
            f"{type(innermost(env)).__name__} has no set_task(task) method. Expected a task "
            "family: a Gymnasium env with sample_tasks(n, rng) and set_task(task) (reset_task is "
            "accepted too, on the env or on a wrapper around it). Add the two methods; see "
            "docs/custom_envs.md."
        )
    return found[2]


class SpaceInfo:
    """What the learner needs of an env's spaces, and how its actions are made valid."""

    def __init__(self, env: gym.Env) -> None:
        space = env.action_space
        self.obs_dim = int(np.prod(env.observation_space.shape))
        # Discrete actions travel as an index in a dimension of size 1 (CategoricalMLPPolicy).
        self.discrete = isinstance(space, gym.spaces.Discrete)
        if self.discrete:
            self.act_dim = 1
            self.low = np.array([space.start], dtype=np.float32)
            self.high = np.array([space.start + space.n - 1], dtype=np.float32)
        else:
            self.act_dim = int(np.prod(space.shape))
            self.low = np.asarray(space.low, dtype=np.float32).reshape(-1)
            self.high = np.asarray(space.high, dtype=np.float32).reshape(-1)
        self.action_shape = space.shape

    def env_actions(self, actions: np.ndarray) -> np.ndarray:
        """The policy's float32 actions [m, act_dim] as the env takes them."""
        if self.discrete:
            return actions[:, 0].astype(np.int64) + int(self.low[0])
        # The env side clips to the bounds; log-probabilities use the unclipped actions.
        return np.clip(actions, self.low, self.high).reshape(-1, *self.action_shape)


class BlockStepper(Protocol):
    """Steps a whole block of one env class at once, bit-equal to calling each env's `step`
    (envs/mujoco/block_step.py). An env class offers one with a classmethod
    `block_stepper(envs) -> BlockStepper | None`."""

    def step(
        self,
        actions: np.ndarray,
        done: np.ndarray,
        obs: np.ndarray,
        rewards: np.ndarray,
        current: np.ndarray,
        first: int,
    ) -> None:
        """Steps sub-env i of the block with `actions[i]` (clipped, float32) unless done[i]: writes
        obs[i], rewards[i] (0 where done) and sets done[i] on termination. current[0] holds
        first + i while sub-env i steps."""


def block_stepper(envs: list[gym.Env]) -> BlockStepper | None:
    """The env class's block stepper for `envs`, if it offers one and METARL_BLOCK_STEP is not 0."""
    offer = getattr(type(envs[0]), "block_stepper", None)
    if offer is None or os.environ.get("METARL_BLOCK_STEP", "1") == "0":
        return None
    return offer(envs)


class EnvBlock:
    """Sub-envs `first .. first + len(envs) - 1` of a batched env.

    Results go into `out`, a float32 array [m, obs_dim + OUT_COLUMNS] (observation, reward, done,
    success) that may live in shared memory. Finished sub-envs are never stepped again until the
    next reset.
    """

    def __init__(
        self,
        make_env: Callable[[], gym.Env],
        first: int,
        count: int,
        current: np.ndarray | None = None,
    ) -> None:
        # Sub-env being set, reset or stepped (global index; -1: none): a worker shares it with
        # the main process, which names the sub-env when the worker dies.
        self.current = np.full(1, -1, dtype=np.int64) if current is None else current
        self.envs = [make_env() for _ in range(count)]
        self._setters = [task_setter(e) for e in self.envs]
        self.spaces = SpaceInfo(self.envs[0])
        self.first = first
        self.tasks: list[Task] = [None] * count
        self.done = np.zeros(count, dtype=bool)
        # 1-D observations are stored as they come (cast to float32 on assignment).
        self._flat = len(self.envs[0].observation_space.shape) == 1
        self.stepper = block_stepper(self.envs)

    def set_tasks(self, tasks: list[Task]) -> None:
        for i, (set_task, task) in enumerate(zip(self._setters, tasks)):
            self.current[0] = self.first + i
            self.tasks[i] = task
            self._call(i, "set_task", set_task, task)
        self.current[0] = -1

    def reset(self, seed: int, out: np.ndarray) -> None:
        """Resets sub-env j with seed `seed + j` (j global): reproducible for any split."""
        for i, env in enumerate(self.envs):
            self.current[0] = self.first + i
            obs, _ = self._call(i, "reset", env.reset, seed=seed + self.first + i)
            out[i, :REWARD] = np.asarray(obs, dtype=np.float32).reshape(-1)
        out[:, REWARD:] = 0.0
        out[:, SUCCESS] = np.nan
        self.done[:] = False
        self.current[0] = -1

    def step(self, actions: np.ndarray, out: np.ndarray) -> None:
        acts = self.spaces.env_actions(actions)
        obs_rows, rewards, done, current = out[:, :REWARD], out[:, REWARD], self.done, self.current
        successes = out[:, SUCCESS]
        if self.stepper is not None:
            try:
                self.stepper.step(acts, done, obs_rows, rewards, current, self.first)
            except Exception as err:
                i = int(current[0]) - self.first  # -1 - first: in the block's own numpy code
                raise self._error(i if i >= 0 else None, "step", err) from err
            out[:, DONE] = done
            current[0] = -1
            return
        # The hot loop of CPU sampling: per sub-env only the env's own step and four stores
        # (local names, no per-call wrapper: ~6 us per step less, 10% of a half-cheetah step).
        flat, first, i, nan = self._flat, self.first, 0, np.nan
        try:
            for i, env in enumerate(self.envs):
                if done[i]:
                    rewards[i] = 0.0
                    continue
                current[0] = first + i
                obs, reward, terminated, truncated, info = env.step(acts[i])
                obs_rows[i] = obs if flat else np.ravel(obs)
                rewards[i] = reward
                successes[i] = info.get("success", nan)
                if terminated or truncated:
                    done[i] = True
        except Exception as err:
            raise self._error(i, "step", err) from err
        out[:, DONE] = done
        current[0] = -1

    def _call(self, i: int, what: str, fn: Callable, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as err:
            raise self._error(i, what, err) from err

    def _error(self, i: int | None, what: str, err: Exception) -> SubEnvError:
        """Names sub-env i, or the whole block (i None: its block stepper's shared code)."""
        if i is None:
            last = self.first + len(self.envs) - 1
            who = f"The block stepper of sub-envs {self.first}..{last}"
            shown = ", ".join(repr(task) for task in self.tasks[:3])
            more = ", ..." if len(self.tasks) > 3 else ""
            who += f" ({type(self.envs[0]).__name__}, tasks [{shown}{more}])"
        else:
            who = f"Sub-env {self.first + i} ({type(innermost(self.envs[i])).__name__}, task "
            who += f"{self.tasks[i]!r})"
        return SubEnvError(
            f"{who} raised {type(err).__name__} in {what}(): {err}. Check the env "
            "with: python -m metarl.check_env <env> (--debug for the traceback)."
        )

    def close(self) -> None:
        for env in self.envs:
            env.close()
