"""The env checker's shared state and its ways of recording findings."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

from metarl.check_env.helpers import located
from metarl.check_env.report import Report, StopChecks
from metarl.task_methods import find_method, innermost
from metarl.tasks import Task, TaskFamily


class CheckerBase:
    """The state the checks share (the env under test, the sampled tasks, the probe actions) and
    how they record findings; the checks themselves are in the mixins that subclass it."""

    def __init__(self, family: TaskFamily) -> None:
        self.family = family
        self.report = Report(name=family.name)
        self._envs: list[gym.Env] = []
        self.env: gym.Env | None = None
        self.sample_fn: Callable[..., Any] | None = None
        self.sample_owner: Any = None
        self.legacy_sample = False
        self.set_name = "set_task"
        self.tasks: list[Task] = []
        self.actions = np.zeros((0, 0), dtype=np.float32)
        self._dtype_reported = False
        self.identical = False

    # --- recording -----------------------------------------------------------------------------

    def error(self, message: str) -> None:
        if message not in self.report.errors:
            self.report.errors.append(message)

    def warn(self, message: str) -> None:
        if message not in self.report.warnings:
            self.report.warnings.append(message)

    def call(self, label: str, fn: Callable[..., Any], *args: Any, expected: str, fix: str) -> Any:
        """fn(*args); an exception becomes an error naming `label` and stops the checks."""
        try:
            return fn(*args)
        except Exception as err:
            self.report.tracebacks.append(f"{label}:\n{traceback.format_exc()}")
            self.error(
                f"{label} raised {type(err).__name__}: {err}{located(err)}. Expected {expected}. "
                f"Likely cause: a bug in the env, or an input it does not handle (metarl calls "
                f"it this way during training). Fix: {fix}; "
                f"`python -m metarl.check_env {self.family.name} --debug` prints the traceback."
            )
            raise StopChecks from err

    @property
    def base(self) -> Any:
        """The user's env under any wrappers and compatibility layer (for names in messages)."""
        assert self.env is not None
        return innermost(self.env)

    def method(self, env: Any, name: str) -> Callable[..., Any] | None:
        """`name` of the env or of a wrapper around it (the outermost that defines it)."""
        found = find_method(env, (name,))
        return None if found is None else found[2]

    @property
    def cls(self) -> str:
        return type(self.base).__name__
