"""Env checker for task families: `python -m metarl.check_env <env spec>`, or check_family().

A task family is a Gymnasium env with `sample_tasks(n, rng)` and `set_task(task)` (legacy
`sample_tasks(n)` and `reset_task(task)` are accepted). The checker calls the env the way the
trainer does and reports every problem it finds, each saying what was expected, what came, the
likely cause and the fix. Hard violations (the run cannot work) are errors; soft ones (it may run,
but probably not as meant) are warnings. An exception raised inside the env is a finding naming
the method that raised, never a traceback (`--debug` prints the tracebacks too).

Checked, in order (a failed step stops the checks that depend on it):

1. the factory returns a gymnasium.Env;
2. sample_tasks and set_task exist and can be called as metarl calls them;
3. the action space is a float Box with finite bounds or a Discrete, the observation space a Box
   or Discrete;
4. sample_tasks(n, rng) returns n picklable tasks, the same ones for the same seed, not all equal;
5. reset() returns (obs, info) and step() the 5-tuple (obs, reward, terminated, truncated, info),
   observations of the space's shape and dtype, finite numbers, scalar reward and flags;
6. the same task, seed and actions give the same first steps (reproducibility);
7. the task survives reset() (get_task() if the env has it, and behaviour), different tasks
   behave differently, a task set on another instance of the env (as the batched sampler does)
   or after a pickle round trip behaves the same.
"""

from __future__ import annotations

import argparse
import difflib
import inspect
import os
import pickle
import reprlib
import sys
import sysconfig
import traceback
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np

from metarl.errors import EnvError, MetaRLError
from metarl.tasks import Task, TaskFamily, make_family

PROBE_STEPS = 10
"""Steps of every probe rollout (fewer if the episode ends)."""
NUM_TASKS = 3
"""Tasks sampled for the checks."""
SEED = 0

_short = reprlib.Repr()
_short.maxstring = _short.maxother = 60
_short.maxlist = _short.maxtuple = _short.maxdict = 4


class EnvCheckWarning(UserWarning):
    """A soft finding of the env checker, issued when check_family runs for the trainer."""


@dataclass
class Report:
    """The findings of one check: errors make the family unusable, warnings are likely bugs."""

    name: str = "env"
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    tracebacks: list[str] = field(default_factory=list)
    """Tracebacks of exceptions raised inside the env (shown by `--debug`)."""

    @property
    def ok(self) -> bool:
        return not self.errors

    def text(self) -> str:
        lines = [f"ERROR: {e}" for e in self.errors] + [f"WARNING: {w}" for w in self.warnings]
        return "\n".join(lines) or "OK"

    def summary(self) -> str:
        counts = f"{_plural(len(self.errors), 'error')}, {_plural(len(self.warnings), 'warning')}"
        if self.errors:
            return f"{counts}: {self.name} is not a usable task family."
        if self.warnings:
            return f"{counts}: {self.name} is usable, but check the warnings."
        return f"{counts}: {self.name} is a usable task family."


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _finding(where: str, expected: str, got: str, cause: str, fix: str) -> str:
    return f"{where}: expected {expected}, got {got}. Likely cause: {cause}. Fix: {fix}."


class _Stop(Exception):
    """An error after which the remaining checks cannot run."""


@dataclass
class _Trajectory:
    observations: list[np.ndarray]
    rewards: list[float]

    def same_as(self, other: _Trajectory) -> bool:
        return (
            len(self.rewards) == len(other.rewards)
            and all(
                a.shape == b.shape and np.allclose(a, b)
                for a, b in zip(self.observations, other.observations)
            )
            and np.allclose(self.rewards, other.rewards)
        )


def _where(err: BaseException) -> str:
    """' (at path:line, in function)' of the innermost frame outside Python's own libraries."""
    frames = traceback.extract_tb(err.__traceback__)
    libs = tuple(sysconfig.get_paths()[k] for k in ("stdlib", "purelib", "platlib"))
    user = [f for f in frames if f.filename != __file__ and not f.filename.startswith(libs)]
    if not (user or frames):
        return ""
    frame = (user or frames)[-1]
    path = frame.filename
    try:
        if not os.path.relpath(path).startswith(".."):
            path = os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        pass
    return f" (at {path}:{frame.lineno}, in {frame.name})"


def _same(a: Any, b: Any) -> bool | None:
    """Deep equality of two tasks; None when they cannot be compared."""
    if a is b:
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return False
        return _all_same([(a[k], b[k]) for k in a])
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        if len(a) != len(b):
            return False
        return _all_same(list(zip(a, b)))
    if hasattr(a, "__array__") or hasattr(b, "__array__"):
        try:
            return bool(np.array_equal(np.asarray(a), np.asarray(b)))
        except Exception:  # e.g. tensors on a GPU: not comparable here
            return None
    if type(a).__eq__ is object.__eq__ and hasattr(a, "__dict__") and hasattr(b, "__dict__"):
        return type(a) is type(b) and _same(vars(a), vars(b))
    try:
        return bool(a == b)
    except Exception:
        return None


def _all_same(pairs: list[tuple[Any, Any]]) -> bool | None:
    results = [_same(x, y) for x, y in pairs]
    if False in results:
        return False
    return None if None in results else True


def _describe(action: np.ndarray) -> str:
    """How metarl passes an action to step(), with this one's value."""
    if action.ndim == 0:
        return f"an np.int64 index; this one: {action}"
    return (
        f"a float32 array of shape {action.shape}; this one: {np.array2string(action, precision=3)}"
    )


def _plain(sig: inspect.Signature) -> str:
    """'(n, rng, difficulty)': a signature without its annotations."""
    empty = inspect.Parameter.empty
    params = [p.replace(annotation=empty) for p in sig.parameters.values()]
    return str(sig.replace(parameters=params, return_annotation=empty))


def _public_methods(obj: Any) -> list[str]:
    names = []
    for name in dir(type(obj)):
        if not name.startswith("_") and callable(getattr(type(obj), name, None)):
            names.append(name)
    return names


class _Checker:
    """Runs the checks of check_family on one family; findings go to `self.report`."""

    def __init__(self, family: TaskFamily) -> None:
        self.family = family
        self.report = Report(name=family.name)
        self._envs: list[gym.Env] = []
        self.env: gym.Env | None = None
        self.sample_fn: Callable[..., Any] | None = None
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
                f"{label} raised {type(err).__name__}: {err}{_where(err)}. Expected {expected}. "
                f"Likely cause: a bug in the env, or an input it does not handle (metarl calls "
                f"it this way during training). Fix: {fix}; "
                f"`python -m metarl.check_env {self.family.name} --debug` prints the traceback."
            )
            raise _Stop from err

    @property
    def base(self) -> Any:
        assert self.env is not None
        return self.env.unwrapped

    @property
    def cls(self) -> str:
        return type(self.base).__name__

    # --- the checks ----------------------------------------------------------------------------

    def run(self) -> Report:
        try:
            self.env = self.make_env()
            self.check_task_methods()
            self.check_spaces()
            if self.report.errors:  # the rollouts need both
                raise _Stop
            self.check_sampled_tasks()
            self.check_api()
            self.check_behaviour()
        except _Stop:
            pass
        except Exception as err:  # from an env attribute read outside self.call: still a finding
            self.report.tracebacks.append(f"checking {self.family.name}:\n{traceback.format_exc()}")
            self.error(
                f"Checking {self.family.name} raised {type(err).__name__}: {err}{_where(err)}. "
                "Expected the env's attributes (spaces, task methods) to be readable. Fix the "
                f"error at that line; `python -m metarl.check_env {self.family.name} --debug` "
                "prints the traceback."
            )
        finally:
            for env in self._envs:
                try:
                    env.close()
                except Exception as err:
                    self.warn(
                        f"close() raised {type(err).__name__}: {err}{_where(err)}. Expected it "
                        "to release the env's resources quietly. Fix: make close() safe to call "
                        "on an env that was reset and stepped."
                    )
        return self.report

    def make_env(self) -> gym.Env:
        env = self.call(
            f"Creating the env ({self.family.name})",
            self.family.make_env,
            expected="the env's class (or factory function) to build an env with no arguments",
            fix="make the constructor work without arguments, or point --env at a function "
            "that returns a ready env",
        )
        if not isinstance(env, gym.Env):
            self.error(
                _finding(
                    f"{self.family.name}",
                    "a gymnasium.Env (a subclass of gymnasium.Env, or a function returning one)",
                    f"an instance of {type(env).__name__}, which is not a gymnasium.Env",
                    "--env names the wrong class, or a class written for another RL API",
                    "subclass gymnasium.Env (with observation_space, action_space, reset and "
                    "step), or point --env at the env class",
                )
            )
            raise _Stop
        self._envs.append(env)
        return env

    def check_task_methods(self) -> None:
        self.check_sample_tasks()
        self.check_set_task()

    def check_sample_tasks(self) -> None:
        fn = getattr(self.base, "sample_tasks", None)
        if not callable(fn):
            self.error(
                _finding(
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
                _finding(
                    f"{self.cls}.sample_tasks",
                    "a Python function whose signature metarl can read (it chooses between "
                    "sample_tasks(n, rng) and the legacy sample_tasks(n) from it)",
                    f"{_short.repr(fn)}, whose signature cannot be read ({err})",
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
                _finding(
                    f"{self.cls}.sample_tasks",
                    "a method callable as sample_tasks(n, rng) (or legacy sample_tasks(n))",
                    f"sample_tasks{_plain(sig)}, which metarl calls as {call}: that fails ({err})",
                    "extra required parameters, or keyword-only n / rng",
                    "use `def sample_tasks(self, n, rng)`; give any other parameter a default",
                )
            )
            return
        self.sample_fn = fn

    def check_set_task(self) -> None:
        for name in ("set_task", "reset_task"):
            fn = getattr(self.base, name, None)
            if callable(fn):
                break
        else:
            self.error(
                _finding(
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
        self.set_name = name
        try:
            inspect.signature(fn).bind(None)
        except TypeError as err:
            self.error(
                _finding(
                    f"{self.cls}.{name}",
                    f"a method callable as {name}(task)",
                    f"{name}{_plain(inspect.signature(fn))} ({err})",
                    "the task is not a parameter, or there are more required parameters",
                    f"use `def {name}(self, task)`; give any other parameter a default",
                )
            )
        except ValueError:  # no signature to inspect: the rollouts will tell
            pass

    def _near(self, name: str) -> str:
        methods = _public_methods(self.base)
        close = difflib.get_close_matches(name, methods, n=2, cutoff=0.6)
        close += [m for m in methods if "task" in m and m not in close]
        return f" (methods with similar names: {', '.join(close)})" if close else ""

    def check_spaces(self) -> None:
        env = self.env
        obs_space = getattr(env, "observation_space", None)
        act_space = getattr(env, "action_space", None)
        if not isinstance(obs_space, gym.spaces.Box | gym.spaces.Discrete):
            self.error(
                _finding(
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
                _finding(
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
                _finding(
                    "action_space",
                    "a float dtype (the policy's actions are continuous)",
                    f"dtype {space.dtype}",
                    "an integer Box standing for discrete choices",
                    f"declare a float Box and round inside step() if needed; {fix}",
                )
            )
        if not (np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high))):
            self.error(
                _finding(
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
                _finding(
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
        if self.legacy_sample:  # as metarl.tasks.sample_tasks_from: seed numpy's global RNG
            np.random.seed(int(rng.integers(2**31 - 1)))
            out = self.call(call, self.sample_fn, NUM_TASKS, expected="a list of tasks", fix=fix)
        else:
            out = self.call(
                call, self.sample_fn, NUM_TASKS, rng, expected="a list of tasks", fix=fix
            )
        if not isinstance(out, Sequence | np.ndarray) or isinstance(out, str | bytes):
            self.error(
                _finding(
                    call,
                    f"a list of {NUM_TASKS} tasks",
                    _short.repr(out),
                    "a missing return statement" if out is None else "a single task returned",
                    "return a list: `return [task_1, ..., task_n]`",
                )
            )
            raise _Stop
        if len(out) != NUM_TASKS:
            self.error(
                _finding(
                    call,
                    f"exactly {NUM_TASKS} tasks",
                    f"{len(out)}",
                    "n ignored, or an off-by-one",
                    "return one task per requested task, `len(result) == n`",
                )
            )
            raise _Stop
        return list(out)

    def check_sampled_tasks(self) -> None:
        tasks = self.sample(np.random.default_rng(SEED))
        again = self.sample(np.random.default_rng(SEED))
        self.tasks = tasks
        call = "sample_tasks(n)" if self.legacy_sample else "sample_tasks(n, rng)"
        if _same(tasks, again) is False:
            source = (
                "Python's `random` module or another unseeded source (metarl seeds numpy's "
                "global RNG before calling the legacy sample_tasks(n))"
                if self.legacy_sample
                else "np.random / random instead of the rng argument"
            )
            self.warn(
                _finding(
                    call,
                    "the same tasks from two generators with the same seed (so that runs, and the "
                    "held-out evaluation tasks, are reproducible)",
                    f"different tasks, e.g. {_short.repr(tasks[0])} and {_short.repr(again[0])}",
                    f"sample_tasks draws from {source}",
                    "draw every random number from the rng argument, e.g. rng.uniform(...)",
                )
            )
        self.identical = all(_same(tasks[0], t) for t in tasks[1:])
        if self.identical:
            self.warn(
                _finding(
                    call,
                    "different tasks (meta-learning needs a distribution of tasks)",
                    f"{NUM_TASKS} equal tasks, {_short.repr(tasks[0])}",
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
                    _finding(
                        f"task {i} from sample_tasks",
                        "a picklable task (the task-family contract: tasks travel to worker "
                        "processes and into files, so they must be plain data)",
                        f"{_short.repr(task)}, and pickling it failed with "
                        f"{type(err).__name__}: {err}",
                        "the task holds a lambda, a local function, an open file, a lock or an env",
                        "keep only plain data in tasks (dicts, numbers, strings, numpy "
                        "arrays) and build functions from it in set_task",
                    )
                )
                raise _Stop from err

    def check_api(self) -> None:
        """reset() and step() of the Gymnasium API, on a first probe rollout."""
        space = self.env.action_space
        rng = np.random.default_rng(SEED)
        # As metarl.tasks.GymnasiumBatchedEnv passes them: np.int64 indices from space.start, or
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
            getattr(env.unwrapped, self.set_name),
            task,
            expected="the task to be set",
            fix=f"make {self.set_name} accept every task sample_tasks returns "
            f"(this one: {_short.repr(task)})",
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
                else f"{type(out).__name__} {_short.repr(out)}"
            )
            self.error(
                _finding(
                    "reset()",
                    "the Gymnasium pair (obs, info)",
                    got,
                    "an env written for gym < 0.26, whose reset() returns only obs",
                    "return obs, {} (and accept reset(*, seed=None, options=None))",
                )
            )
            raise _Stop
        return self.observation(out[0], "reset()", validate)

    def observation(self, obs: Any, where: str, validate: bool) -> np.ndarray:
        space = self.env.observation_space
        array = np.asarray(obs)
        if array.shape != space.shape:
            self.error(
                _finding(
                    f"{where} observation",
                    f"shape {space.shape} (the observation space's)",
                    f"shape {array.shape}",
                    "observation_space declared with another shape than the observations "
                    "built in reset() / step()",
                    f"make the observation and observation_space agree (now {space})",
                )
            )
            raise _Stop
        if validate and not self._dtype_reported:
            if isinstance(space, gym.spaces.Box) and array.dtype != space.dtype:
                self._dtype_reported = True
                self.warn(
                    _finding(
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
                    _finding(
                        f"{where} observation",
                        "an integer for a Discrete observation space",
                        f"dtype {array.dtype}",
                        "a Box observation declared as Discrete",
                        "return an int, or declare a Box",
                    )
                )
        if not np.issubdtype(array.dtype, np.number) and array.dtype != np.bool_:
            self.error(
                _finding(
                    f"{where} observation",
                    "numbers",
                    f"dtype {array.dtype}: {_short.repr(obs)}",
                    "a structured observation",
                    "return a numpy float array",
                )
            )
            raise _Stop
        if not np.all(np.isfinite(array)):
            self.error(
                _finding(
                    f"{where} observation",
                    "finite numbers",
                    _short.repr(array),
                    "a division by zero, an overflow, or an uninitialised value",
                    "guard the computation of the observation",
                )
            )
            raise _Stop
        return array.astype(np.float64).reshape(-1)

    def step(self, env: gym.Env, action: np.ndarray, t: int, validate: bool) -> tuple[Any, bool]:
        out = self.call(
            f"step(action) at t={t}",
            env.step,
            action,
            expected="(obs, reward, terminated, truncated, info)",
            fix=f"make step accept any action in the action space ({_describe(action)})",
        )
        if not (isinstance(out, tuple) and len(out) == 5):
            got = (
                f"a tuple of {len(out)} values"
                if isinstance(out, tuple)
                else f"{type(out).__name__} {_short.repr(out)}"
            )
            cause = (
                "an env written for gym < 0.26, whose step() returns (obs, reward, done, info)"
                if isinstance(out, tuple) and len(out) == 4
                else "a return statement that does not build the Gymnasium 5-tuple"
            )
            self.error(
                _finding(
                    "step()",
                    "the Gymnasium 5-tuple (obs, reward, terminated, truncated, info)",
                    got,
                    cause,
                    "return obs, reward, terminated, truncated, info, with terminated = the "
                    "episode reached a terminal state and truncated = it was cut short (e.g. a "
                    "time limit)",
                )
            )
            raise _Stop
        obs, reward, terminated, truncated, _ = out
        where = f"step() at t={t}"
        obs = self.observation(obs, where, validate)
        dtype = np.asarray(reward).dtype
        if np.ndim(reward) != 0 or not (np.issubdtype(dtype, np.number) or dtype == np.bool_):
            self.error(
                _finding(
                    f"{where} reward",
                    "a scalar number",
                    f"{type(reward).__name__} {_short.repr(reward)}",
                    "a reward per sub-goal or a 1-element array",
                    "return a float, e.g. float(reward.sum())",
                )
            )
            raise _Stop
        if not np.isfinite(reward):
            self.error(
                _finding(
                    f"{where} reward",
                    "a finite number",
                    f"{reward}",
                    "a division by zero, a log of 0, or an overflow",
                    "guard the reward computation (e.g. clip, or add a small epsilon)",
                )
            )
            raise _Stop
        for flag, value in (("terminated", terminated), ("truncated", truncated)):
            if np.ndim(value) != 0:
                self.error(
                    _finding(
                        f"{where} {flag}",
                        "a bool",
                        f"{type(value).__name__} {_short.repr(value)}",
                        "a per-element flag array",
                        f"return a single bool, e.g. bool({flag}.any())",
                    )
                )
                raise _Stop
        return (obs, float(reward)), bool(terminated) or bool(truncated)

    def rollout(
        self,
        env: gym.Env,
        task: Task,
        validate: bool = False,
        reset_before: bool = False,
        set_after_reset: bool = False,
    ) -> _Trajectory:
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
        return _Trajectory(observations, rewards)

    def check_behaviour(self) -> None:
        env, (task_a, *others) = self.env, self.tasks
        first = self.rollout(env, task_a)
        if not self.rollout(env, task_a).same_as(first):
            self.warn(
                _finding(
                    "Reproducibility",
                    "the same observations and rewards from the same task, reset(seed=0) and "
                    "actions",
                    "different ones",
                    "randomness not drawn from self.np_random (e.g. np.random, random, or a "
                    "generator made in __init__), or reset() not calling "
                    "super().reset(seed=seed)",
                    "call super().reset(seed=seed) in reset() and draw all randomness from "
                    "self.np_random. The checks that compare behaviour (task survives reset, "
                    "tasks differ, tasks on other instances) were skipped",
                )
            )
            self.check_get_task()
            return
        survived = self.check_get_task()
        if survived and not self.rollout(env, task_a, reset_before=True).same_as(first):
            survived = False
            self.error(
                _finding(
                    f"{self.set_name}(A), then an episode and reset()",
                    "the same first steps as right after set_task(A) (the task must stay set "
                    "across reset() until set_task is called again)",
                    "different observations or rewards",
                    "reset() changes or resamples the task, or step() changes it during an episode",
                    "keep the task in an attribute that only set_task writes",
                )
            )
        if not self.identical and all(self.rollout(env, t).same_as(first) for t in others):
            late = self.rollout(env, task_a, set_after_reset=True)
            if not late.same_as(first):
                if survived:
                    self.error(
                        _finding(
                            f"{self.set_name}(task), then reset()",
                            "the task to stay set across reset()",
                            f"every task behaving alike after reset(), while {self.set_name} "
                            "called after reset() changes the rewards or observations",
                            "reset() puts the task back to a default (or resamples it)",
                            "do not touch the task in reset(); keep it in an attribute that "
                            "only set_task writes",
                        )
                    )
            else:
                self.warn(
                    _finding(
                        f"{self.set_name}(task)",
                        "different rewards or observations for different tasks",
                        f"the same ones for {len(self.tasks)} sampled tasks "
                        f"(first {PROBE_STEPS} steps, same seed and actions)",
                        f"{self.set_name} stores the task where step() and reset() never read "
                        "it (a family whose tasks are all the same is almost always a bug)",
                        f"make step() (the reward or the dynamics) depend on what "
                        f"{self.set_name} stored",
                    )
                )
        other_env = self.make_env()
        if not self.rollout(other_env, task_a).same_as(first):
            self.error(
                _finding(
                    "A task on another instance of the env",
                    "the same behaviour as on the instance that sampled it (metarl samples "
                    "tasks from one env and sets them on many copies)",
                    "different observations or rewards",
                    "the task refers to state of the env that sampled it, or the constructor "
                    "draws unseeded random state",
                    "make the task self-contained data and draw random state in reset() from "
                    "self.np_random",
                )
            )
        copy = pickle.loads(pickle.dumps(task_a))
        if not self.rollout(env, copy).same_as(first):
            self.warn(
                _finding(
                    "A task after a pickle round trip",
                    "the same behaviour as the original",
                    "different observations or rewards",
                    "set_task compares tasks by identity, or the task's pickling drops state",
                    "make set_task read the task's values, and pickle every field",
                )
            )

    def check_get_task(self) -> bool:
        """If the env has get_task(): it returns the task set, also after reset(). False if not."""
        getter = getattr(self.base, "get_task", None)
        if not callable(getter):
            return True
        task = self.tasks[0]
        self.set_task(self.env, task)
        self.reset(self.env, SEED, validate=False)
        fix = "return the task last given to set_task"
        got = self.call("get_task()", getter, expected="the task set", fix=fix)
        if _same(got, task) is False:
            self.error(
                _finding(
                    f"get_task() after {self.set_name}(task) and reset()",
                    f"the task set, {_short.repr(task)}",
                    _short.repr(got),
                    "reset() changes or resamples the task, or get_task() reads another "
                    "attribute than set_task writes",
                    "keep the task in one attribute that only set_task writes",
                )
            )
            return False
        return True


def check_family(
    family: TaskFamily, raise_on_error: bool = True, imports: list[str] | None = None
) -> Report:
    """Runs every check on `family` and returns the findings.

    With raise_on_error (the trainer's mode), errors raise one EnvError listing every finding, and
    warnings alone are issued as EnvCheckWarning so that they show on the console. `imports` (the
    run's env.imports) go into the re-check command the error suggests.
    """
    report = _Checker(family).run()
    if raise_on_error:
        if report.errors:
            recheck = " ".join([*(f"--import {m}" for m in imports or []), family.name])
            raise EnvError(
                f"{family.name} is not a usable task family "
                f"({_plural(len(report.errors), 'error')}, "
                f"{_plural(len(report.warnings), 'warning')}):\n"
                f"{report.text()}\n"
                f"Re-check after fixing: python -m metarl.check_env {recheck}"
            )
        for message in report.warnings:
            warnings.warn(f"{family.name}: {message}", EnvCheckWarning, stacklevel=2)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m metarl.check_env",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Exit status: 0 usable (warnings allowed unless --strict), 1 errors found, "
        "2 the env could not be resolved or built.",
    )
    parser.add_argument("env", help="built-in name, 'package.module:Class' or a Gymnasium id")
    parser.add_argument(
        "--horizon",
        type=int,
        default=None,
        help="episode length, for envs without a Gymnasium registration",
    )
    parser.add_argument(
        "--import",
        dest="imports",
        action="append",
        default=[],
        metavar="MODULE",
        help="import MODULE first (a module that calls metarl.register); repeatable",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 on warnings too")
    parser.add_argument(
        "--debug", action="store_true", help="print the tracebacks of exceptions raised by the env"
    )
    args = parser.parse_args(argv)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            family = make_family(args.env, args.horizon, args.imports)
        except MetaRLError as err:
            if args.debug and err.__cause__ is not None:
                traceback.print_exception(err.__cause__)  # what the user's code raised
            print(f"error: {err}", file=sys.stderr)
            return 2
        except Exception as err:  # the user's module or constructor raised while resolving
            if args.debug:
                traceback.print_exc()
            print(
                f"error: Resolving env '{args.env}' raised {type(err).__name__}: {err}"
                f"{_where(err)}. Expected the module to import and the env to build without "
                "arguments. Fix the error at that line (--debug prints the traceback).",
                file=sys.stderr,
            )
            return 2
    print(f"Checking {args.env} (horizon {family.horizon})", flush=True)
    report = check_family(family, raise_on_error=False)
    report.warnings[:0] = [
        str(w.message) for w in caught if not isinstance(w.message, DeprecationWarning)
    ]
    if args.debug:
        for text in report.tracebacks:
            print(text, file=sys.stderr)
    print(report.text())
    print(report.summary())
    return 1 if report.errors or (args.strict and report.warnings) else 0


if __name__ == "__main__":
    sys.exit(main())
