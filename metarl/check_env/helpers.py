"""Constants and small helpers of the env checker: comparing tasks, locating an exception in the
user's code, describing values."""

from __future__ import annotations

import inspect
import os
import reprlib
import sysconfig
import traceback
from dataclasses import dataclass
from typing import Any

import numpy as np

# Frames in these files are the checker's own, not the user's.
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep

PROBE_STEPS = 10
"""Steps of every probe rollout (fewer if the episode ends)."""
NUM_TASKS = 3
"""Tasks sampled for the checks."""
SEED = 0

brief = reprlib.Repr()
brief.maxstring = brief.maxother = 60
brief.maxlist = brief.maxtuple = brief.maxdict = 4


@dataclass
class Trajectory:
    observations: list[np.ndarray]
    rewards: list[float]

    def same_as(self, other: Trajectory) -> bool:
        return (
            len(self.rewards) == len(other.rewards)
            and all(
                a.shape == b.shape and np.allclose(a, b)
                for a, b in zip(self.observations, other.observations)
            )
            and np.allclose(self.rewards, other.rewards)
        )


def located(err: BaseException) -> str:
    """' (at path:line, in function)' of the innermost frame outside Python's own libraries."""
    frames = traceback.extract_tb(err.__traceback__)
    libs = tuple(sysconfig.get_paths()[k] for k in ("stdlib", "purelib", "platlib"))
    # The innermost frame in the user's code: not the checker's own, not a library's.
    skip = (_PACKAGE_DIR, *libs)
    user = [f for f in frames if not f.filename.startswith(skip)]
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


def deep_equal(a: Any, b: Any) -> bool | None:
    """Deep equality of two tasks; None when they cannot be compared."""
    if a is b:
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return False
        return all_equal([(a[k], b[k]) for k in a])
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        if len(a) != len(b):
            return False
        return all_equal(list(zip(a, b)))
    if hasattr(a, "__array__") or hasattr(b, "__array__"):
        try:
            return bool(np.array_equal(np.asarray(a), np.asarray(b)))
        except Exception:  # e.g. tensors on a GPU: not comparable here
            return None
    if type(a).__eq__ is object.__eq__ and hasattr(a, "__dict__") and hasattr(b, "__dict__"):
        return type(a) is type(b) and deep_equal(vars(a), vars(b))
    try:
        return bool(a == b)
    except Exception:
        return None


def all_equal(pairs: list[tuple[Any, Any]]) -> bool | None:
    results = [deep_equal(x, y) for x, y in pairs]
    if False in results:
        return False
    return None if None in results else True


def describe_action(action: np.ndarray) -> str:
    """How metarl passes an action to step(), with this one's value."""
    if action.ndim == 0:
        return f"an np.int64 index; this one: {action}"
    return (
        f"a float32 array of shape {action.shape}; this one: {np.array2string(action, precision=3)}"
    )


def plain_signature(sig: inspect.Signature) -> str:
    """'(n, rng, difficulty)': a signature without its annotations."""
    empty = inspect.Parameter.empty
    params = [p.replace(annotation=empty) for p in sig.parameters.values()]
    return str(sig.replace(parameters=params, return_annotation=empty))


def public_methods(obj: Any) -> list[str]:
    names = []
    for name in dir(type(obj)):
        if not name.startswith("_") and callable(getattr(type(obj), name, None)):
            names.append(name)
    return names
