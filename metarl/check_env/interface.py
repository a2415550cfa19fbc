"""Checks of the task-family interface: sample_tasks, set_task, the spaces, the sampled tasks."""

from __future__ import annotations

import difflib
import inspect
import pickle
from collections.abc import Sequence

import gymnasium as gym
import numpy as np

from metarl.check_env.base import CheckerBase
from metarl.check_env.helpers import (
    NUM_TASKS,
    SEED,
    brief,
    deep_equal,
    plain_signature,
    public_methods,
)
from metarl.check_env.report import StopChecks, finding
from metarl.task_methods import SETTERS, find_method, layers, seed_legacy_sampler
from metarl.tasks import Task


class InterfaceChecks(CheckerBase):
    """Checks of the task-family interface: sample_tasks, set_task, the spaces, the sampled
    tasks."""

    def check_task_methods(self) -> None:
        self.check_sample_tasks()
        self.check_set_task()

    def check_sample_tasks(self) -> None:
        found = find_method(self.env, ("sample_tasks",))
        fn = None if found is None else found[2]
        if fn is None:
            self.error(
                finding(
                    f"{self.cls}.sample_tasks",
                    "a method sample_tasks(n, rng) returning a list of n tasks (rng: a "
                    "numpy.random.Generator; the legacy sample_tasks(n) is accepted too)",
                    "no such method" + self._near("sample_tasks"),
                    "the env is a plain Gymnasium env, not a task family, or the method has "
                    "another name",
                    "add `def sample_tasks(self, n, rng): return [{'goal': g} for g in "
                    "rng.uniform(-1, 1, size=(n, 2))]` (any picklable data describing a task)",
                )
            )
            return
        try:
            sig = inspect.signature(fn)
        except (TypeError, ValueError) as err:  # e.g. a builtin without a signature
            self.error(
                finding(
                    f"{self.cls}.sample_tasks",
                    "a Python function whose signature metarl can read (it chooses between "
                    "sample_tasks(n, rng) and the legacy sample_tasks(n) from it)",
                    f"{brief.repr(fn)}, whose signature cannot be read ({err})",
                    "sample_tasks assigned from a builtin or a C extension",
                    "define it with `def sample_tasks(self, n, rng):` and call the builtin inside",
                )
            )
            return
        # Mirrors metarl.tasks.sample_tasks_from: 2+ parameters -> (n, rng), else legacy (n).
        self.legacy_sample = len(sig.parameters) < 2
        call = "sample_tasks(n)" if self.legacy_sample else "sample_tasks(n, rng)"
        try:
            sig.bind(*([NUM_TASKS] if self.legacy_sample else [NUM_TASKS, None]))
        except TypeError as err:
            self.error(
                finding(
                    f"{self.cls}.sample_tasks",
                    "a method callable as sample_tasks(n, rng) (or legacy sample_tasks(n))",
                    f"sample_tasks{plain_signature(sig)}, which metarl calls as {call}: that "
                    f"fails ({err})",
                    "extra required parameters, or keyword-only n / rng",
                    "use `def sample_tasks(self, n, rng)`; give any other parameter a default",
                )
            )
            return
        self.sample_fn, self.sample_owner = fn, found[0]

    def check_set_task(self) -> None:
        found = find_method(self.env, SETTERS)
        if found is None:
            self.error(
                finding(
                    f"{self.cls}.set_task",
                    "a method set_task(task) (or legacy reset_task(task)) that makes the env "
                    "run that task until it is called again",
                    "no such method" + self._near("set_task"),
                    "the env is a plain Gymnasium env, not a task family, or the method has "
                    "another name",
                    "add `def set_task(self, task): self.task = task` and read self.task in "
                    "step() (and reset())",
                )
            )
            return
        _, name, fn = found
        self.set_name = name
        try:
            inspect.signature(fn).bind(None)
        except TypeError as err:
            self.error(
                finding(
                    f"{self.cls}.{name}",
                    f"a method callable as {name}(task)",
                    f"{name}{plain_signature(inspect.signature(fn))} ({err})",
                    "the task is not a parameter, or there are more required parameters",
                    f"use `def {name}(self, task)`; give any other parameter a default",
                )
            )
        except ValueError:  # no signature to inspect: the rollouts will tell
            pass

    def _near(self, name: str) -> str:
        methods = [m for layer in layers(self.env) for m in public_methods(layer)]
        methods = list(dict.fromkeys(methods))
        close = difflib.get_close_matches(name, methods, n=2, cutoff=0.6)
        close += [m for m in methods if "task" in m and m not in close]
        return f" (methods with similar names: {', '.join(close)})" if close else ""

    def check_spaces(self) -> None:
        env = self.env
        obs_space = getattr(env, "observation_space", None)
        act_space = getattr(env, "action_space", None)
        if not isinstance(obs_space, gym.spaces.Box | gym.spaces.Discrete):
            self.error(
                finding(
                    "observation_space",
                    "a gymnasium.spaces.Box (or Discrete)",
                    type(obs_space).__name__ if obs_space is not None else "no observation_space",
                    "a structured (Dict / Tuple) or missing observation space; metarl's policy "
                    "is an MLP on a flat vector",
                    "set self.observation_space to a Box in __init__, or flatten the env "
                    "(gymnasium.wrappers.FlattenObservation)",
                )
            )
        if isinstance(act_space, gym.spaces.Discrete):
            pass  # a categorical policy picks one of the n actions
        elif not isinstance(act_space, gym.spaces.Box):
            self.error(
                finding(
                    "action_space",
                    "a gymnasium.spaces.Box with finite float bounds (Gaussian policy) or a "
                    "Discrete(n) (categorical policy)",
                    repr(act_space) if act_space is not None else "no action_space",
                    "a missing or structured (MultiDiscrete, Dict, Tuple) action space",
                    "set self.action_space in __init__ to gymnasium.spaces.Box(low, high, "
                    "shape=(k,), dtype=np.float32) or gymnasium.spaces.Discrete(n), and map it "
                    "to your actions inside step()",
                )
            )
        else:
            self._check_action_box(act_space)

    def _check_action_box(self, space: gym.spaces.Box) -> None:
        fix = "e.g. gymnasium.spaces.Box(-1.0, 1.0, shape=(k,), dtype=np.float32)"
        if not np.issubdtype(space.dtype, np.floating):
            self.error(
                finding(
                    "action_space",
                    "a float dtype (the policy's actions are continuous)",
                    f"dtype {space.dtype}",
                    "an integer Box standing for discrete choices",
                    f"declare a float Box and round inside step() if needed; {fix}",
                )
            )
        if not (np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high))):
            self.error(
                finding(
                    "action_space",
                    "finite bounds (Gaussian actions are clipped to them before step())",
                    f"low={space.low}, high={space.high}",
                    "Box(-np.inf, np.inf, ...), the default for a space declared without limits",
                    "give the real limits of the actions, "
                    "e.g. gymnasium.spaces.Box(-1.0, 1.0, shape=(k,), dtype=np.float32)",
                )
            )
        elif np.any(space.low > space.high):
            self.error(
                finding(
                    "action_space",
                    "low <= high in every dimension",
                    f"low={space.low}, high={space.high}",
                    "low and high swapped",
                    "swap them",
                )
            )

    def sample(self, rng: np.random.Generator) -> list[Task]:
        assert self.sample_fn is not None
        call = (
            f"sample_tasks({NUM_TASKS})"
            if self.legacy_sample
            else f"sample_tasks({NUM_TASKS}, rng)"
        )
        fix = "make sample_tasks return a list of n tasks for any n >= 1"
        if self.legacy_sample:  # as metarl.tasks.sample_tasks_from: numpy's and the env's RNG
            seed_legacy_sampler(self.sample_owner, rng)
            out = self.call(call, self.sample_fn, NUM_TASKS, expected="a list of tasks", fix=fix)
        else:
            out = self.call(
                call, self.sample_fn, NUM_TASKS, rng, expected="a list of tasks", fix=fix
            )
        if not isinstance(out, Sequence | np.ndarray) or isinstance(out, str | bytes):
            self.error(
                finding(
                    call,
                    f"a list of {NUM_TASKS} tasks",
                    brief.repr(out),
                    "a missing return statement" if out is None else "a single task returned",
                    "return a list: `return [task_1, ..., task_n]`",
                )
            )
            raise StopChecks
        if len(out) != NUM_TASKS:
            self.error(
                finding(
                    call,
                    f"exactly {NUM_TASKS} tasks",
                    f"{len(out)}",
                    "n ignored, or an off-by-one",
                    "return one task per requested task, `len(result) == n`",
                )
            )
            raise StopChecks
        return list(out)

    def check_sampled_tasks(self) -> None:
        tasks = self.sample(np.random.default_rng(SEED))
        again = self.sample(np.random.default_rng(SEED))
        self.tasks = tasks
        call = "sample_tasks(n)" if self.legacy_sample else "sample_tasks(n, rng)"
        if deep_equal(tasks, again) is False:
            source = (
                "Python's `random` module or another unseeded source (metarl seeds numpy's "
                "global RNG and the env's np_random before calling the legacy sample_tasks(n))"
                if self.legacy_sample
                else "np.random / random instead of the rng argument"
            )
            self.warn(
                finding(
                    call,
                    "the same tasks from two generators with the same seed (so that runs, and the "
                    "held-out evaluation tasks, are reproducible)",
                    f"different tasks, e.g. {brief.repr(tasks[0])} and {brief.repr(again[0])}",
                    f"sample_tasks draws from {source}",
                    "draw every random number from the rng argument, e.g. rng.uniform(...)",
                )
            )
        self.identical = all(deep_equal(tasks[0], t) for t in tasks[1:])
        if self.identical:
            self.warn(
                finding(
                    call,
                    "different tasks (meta-learning needs a distribution of tasks)",
                    f"{NUM_TASKS} equal tasks, {brief.repr(tasks[0])}",
                    "sample_tasks ignores the rng, or returns one fixed task n times",
                    "draw each task's parameters from rng, e.g. rng.uniform(low, high, size=(n, "
                    "d))",
                )
            )
        for i, task in enumerate(tasks):
            try:
                pickle.loads(pickle.dumps(task))
            except Exception as err:  # any pickling failure is the same finding
                self.error(
                    finding(
                        f"task {i} from sample_tasks",
                        "a picklable task (the task-family contract: tasks travel to worker "
                        "processes and into files, so they must be plain data)",
                        f"{brief.repr(task)}, and pickling it failed with "
                        f"{type(err).__name__}: {err}",
                        "the task holds a lambda, a local function, an open file, a lock or an env",
                        "keep only plain data in tasks (dicts, numbers, strings, numpy "
                        "arrays) and build functions from it in set_task",
                    )
                )
                raise StopChecks from err
