"""Probe rollouts through the Gymnasium API: reset, step, observations, as metarl calls them."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from metarl.check_env.base import CheckerBase
from metarl.check_env.helpers import (
    PROBE_STEPS,
    SEED,
    Trajectory,
    brief,
    describe_action,
)
from metarl.check_env.report import StopChecks, finding
from metarl.tasks import Task


class ProbeChecks(CheckerBase):
    """Probe rollouts through the Gymnasium API: reset, step, observations, as metarl calls them."""

    def check_api(self) -> None:
        """reset() and step() of the Gymnasium API, on a first probe rollout."""
        space = self.env.action_space
        rng = np.random.default_rng(SEED)
        # As metarl.vec.local.GymnasiumBatchedEnv passes them: np.int64 indices from space.start, or
        # float32 arrays of the space's shape inside its bounds.
        if isinstance(space, gym.spaces.Discrete):
            self.actions = space.start + rng.integers(space.n, size=PROBE_STEPS, dtype=np.int64)
        else:
            low = np.asarray(space.low, dtype=np.float32)
            high = np.asarray(space.high, dtype=np.float32)
            self.actions = rng.uniform(low, high, size=(PROBE_STEPS, *low.shape))
            self.actions = self.actions.astype(np.float32)
        self.rollout(self.env, self.tasks[0], validate=True)

    def set_task(self, env: gym.Env, task: Task) -> None:
        self.call(
            f"{self.set_name}(task)",
            self.method(env, self.set_name),
            task,
            expected="the task to be set",
            fix=f"make {self.set_name} accept every task sample_tasks returns "
            f"(this one: {brief.repr(task)})",
        )

    def reset(self, env: gym.Env, seed: int, validate: bool) -> np.ndarray:
        out = self.call(
            f"reset(seed={seed})",
            lambda: env.reset(seed=seed),
            expected="(obs, info)",
            fix="write reset(self, *, seed=None, options=None) calling super().reset(seed=seed) "
            "and returning (obs, info)",
        )
        if not (isinstance(out, tuple) and len(out) == 2 and isinstance(out[1], dict)):
            got = (
                f"a tuple of {len(out)} values"
                if isinstance(out, tuple)
                else f"{type(out).__name__} {brief.repr(out)}"
            )
            self.error(
                finding(
                    "reset()",
                    "the Gymnasium pair (obs, info)",
                    got,
                    "an env written for gym < 0.26, whose reset() returns only obs",
                    "return obs, {} (and accept reset(*, seed=None, options=None))",
                )
            )
            raise StopChecks
        return self.observation(out[0], "reset()", validate)

    def observation(self, obs: Any, where: str, validate: bool) -> np.ndarray:
        space = self.env.observation_space
        array = np.asarray(obs)
        if array.shape != space.shape:
            self.error(
                finding(
                    f"{where} observation",
                    f"shape {space.shape} (the observation space's)",
                    f"shape {array.shape}",
                    "observation_space declared with another shape than the observations "
                    "built in reset() / step()",
                    f"make the observation and observation_space agree (now {space})",
                )
            )
            raise StopChecks
        if validate and not self._dtype_reported:
            if isinstance(space, gym.spaces.Box) and array.dtype != space.dtype:
                self._dtype_reported = True
                self.warn(
                    finding(
                        f"{where} observation",
                        f"dtype {space.dtype} (the observation space's)",
                        f"dtype {array.dtype}",
                        "numpy computes in float64 unless told otherwise",
                        f"return obs.astype(np.{space.dtype}) or declare the Box with "
                        f"dtype=np.{array.dtype} (metarl casts to float32 either way, but other "
                        "Gymnasium tools reject the mismatch)",
                    )
                )
            if isinstance(space, gym.spaces.Discrete) and not np.issubdtype(
                array.dtype, np.integer
            ):
                self._dtype_reported = True
                self.warn(
                    finding(
                        f"{where} observation",
                        "an integer for a Discrete observation space",
                        f"dtype {array.dtype}",
                        "a Box observation declared as Discrete",
                        "return an int, or declare a Box",
                    )
                )
        if not np.issubdtype(array.dtype, np.number) and array.dtype != np.bool_:
            self.error(
                finding(
                    f"{where} observation",
                    "numbers",
                    f"dtype {array.dtype}: {brief.repr(obs)}",
                    "a structured observation",
                    "return a numpy float array",
                )
            )
            raise StopChecks
        if not np.all(np.isfinite(array)):
            self.error(
                finding(
                    f"{where} observation",
                    "finite numbers",
                    brief.repr(array),
                    "a division by zero, an overflow, or an uninitialised value",
                    "guard the computation of the observation",
                )
            )
            raise StopChecks
        return array.astype(np.float64).reshape(-1)

    def step(self, env: gym.Env, action: np.ndarray, t: int, validate: bool) -> tuple[Any, bool]:
        out = self.call(
            f"step(action) at t={t}",
            env.step,
            action,
            expected="(obs, reward, terminated, truncated, info)",
            fix=f"make step accept any action in the action space ({describe_action(action)})",
        )
        if not (isinstance(out, tuple) and len(out) == 5):
            got = (
                f"a tuple of {len(out)} values"
                if isinstance(out, tuple)
                else f"{type(out).__name__} {brief.repr(out)}"
            )
            cause = (
                "an env written for gym < 0.26, whose step() returns (obs, reward, done, info)"
                if isinstance(out, tuple) and len(out) == 4
                else "a return statement that does not build the Gymnasium 5-tuple"
            )
            self.error(
                finding(
                    "step()",
                    "the Gymnasium 5-tuple (obs, reward, terminated, truncated, info)",
                    got,
                    cause,
                    "return obs, reward, terminated, truncated, info, with terminated = the "
                    "episode reached a terminal state and truncated = it was cut short (e.g. a "
                    "time limit)",
                )
            )
            raise StopChecks
        obs, reward, terminated, truncated, info = out
        where = f"step() at t={t}"
        if not isinstance(info, dict):
            self.error(
                finding(
                    f"{where} info",
                    "a dict (the fifth value of the Gymnasium step tuple)",
                    f"{type(info).__name__} {brief.repr(info)}",
                    "the values of the tuple in another order, or None for an empty info",
                    "return {} when there is nothing to report",
                )
            )
            raise StopChecks
        obs = self.observation(obs, where, validate)
        dtype = np.asarray(reward).dtype
        if np.ndim(reward) != 0 or not (np.issubdtype(dtype, np.number) or dtype == np.bool_):
            self.error(
                finding(
                    f"{where} reward",
                    "a scalar number",
                    f"{type(reward).__name__} {brief.repr(reward)}",
                    "a reward per sub-goal or a 1-element array",
                    "return a float, e.g. float(reward.sum())",
                )
            )
            raise StopChecks
        if not np.isfinite(reward):
            self.error(
                finding(
                    f"{where} reward",
                    "a finite number",
                    f"{reward}",
                    "a division by zero, a log of 0, or an overflow",
                    "guard the reward computation (e.g. clip, or add a small epsilon)",
                )
            )
            raise StopChecks
        for flag, value in (("terminated", terminated), ("truncated", truncated)):
            if np.ndim(value) != 0:
                self.error(
                    finding(
                        f"{where} {flag}",
                        "a bool",
                        f"{type(value).__name__} {brief.repr(value)}",
                        "a per-element flag array",
                        f"return a single bool, e.g. bool({flag}.any())",
                    )
                )
                raise StopChecks
        return (obs, float(reward)), bool(terminated) or bool(truncated)

    def rollout(
        self,
        env: gym.Env,
        task: Task,
        validate: bool = False,
        reset_before: bool = False,
        set_after_reset: bool = False,
    ) -> Trajectory:
        """set_task, reset(seed=SEED), PROBE_STEPS steps of the fixed probe actions.

        reset_before: an extra reset (seed SEED + 1) and a few steps between set_task and the
        probe, as when a sampler runs several episodes of one task. set_after_reset: set_task
        after reset() instead of before.
        """
        if not set_after_reset:
            self.set_task(env, task)
        if reset_before:
            self.reset(env, SEED + 1, validate)
            for t, action in enumerate(self.actions[:3]):
                if self.step(env, action, t, validate)[1]:
                    break
        observations = [self.reset(env, SEED, validate)]
        if set_after_reset:
            self.set_task(env, task)
        rewards = []
        for t, action in enumerate(self.actions):
            (obs, reward), done = self.step(env, action, t, validate)
            observations.append(obs)
            rewards.append(reward)
            if done:
                break
        return Trajectory(observations, rewards)
