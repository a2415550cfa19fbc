"""Where an env's task methods live, and how to seed the random generator they draw from.

Task families written for other libraries put `sample_tasks` / `set_task` / `reset_task` /
`get_task` on the env itself, on a wrapper around it (a `gymnasium.Wrapper` subclass), or on an
old-gym env that metarl runs through a compatibility layer (metarl/old_gym.py). `find_method`
looks through all of these, outermost first, so the wrapper's own method wins, as calling it on
the wrapper would.

This module imports no torch: sampler workers import it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

SETTERS = ("set_task", "reset_task")
"""Names of the method that sets a task (garage / learn2learn, pytorch-maml-rl)."""


def layers(env: Any) -> Iterator[Any]:
    """The env and everything it wraps, outermost first: gymnasium wrappers (`.env`), the env a
    compatibility layer converts (`.gym_env`), old-gym wrappers (`.env`)."""
    seen: set[int] = set()
    layer = env
    while layer is not None and id(layer) not in seen:
        seen.add(id(layer))
        yield layer
        # The instance's own attributes only: old-gym wrappers and shimmy's envs forward
        # unknown attribute reads to the env they hold, which would skip a layer.
        inner = vars(layer) if hasattr(layer, "__dict__") else {}
        layer = inner.get("env", inner.get("gym_env"))


def _defines(layer: Any, name: str) -> bool:
    """`name` is a method of the layer's class or set on the instance (not a forwarded read)."""
    own = vars(layer) if hasattr(layer, "__dict__") else {}
    return callable(own.get(name)) or callable(inspect.getattr_static(type(layer), name, None))


def find_method(env: Any, names: tuple[str, ...]) -> tuple[Any, str, Callable[..., Any]] | None:
    """(layer, name, bound method) of the outermost layer defining one of `names`, in the order
    of `names` within a layer; None if no layer does."""
    for layer in layers(env):
        for name in names:
            if _defines(layer, name):
                return layer, name, getattr(layer, name)
    return None


def innermost(env: Any) -> Any:
    """The env at the bottom of the wrappers and compatibility layers."""
    *_, last = layers(env)
    return last


def reseed_own_rng(owner: Any, seed: int) -> None:
    """Seeds the generator `owner` draws from itself (`self.np_random`), the way the owner's API
    does it: its own `seed(seed)` method (gym < 0.26, learn2learn, pytorch-maml-rl), else a new
    `np_random` of the same kind (Generator, or RandomState for code written against gym <= 0.21).

    Task families whose `sample_tasks(n)` takes no generator draw their tasks from it: without
    this, the same run seed would give other tasks on every run.
    """
    seed_method = inspect.getattr_static(type(owner), "seed", None)
    if callable(seed_method) and _is_own(owner, "seed"):
        owner.seed(seed)
        return
    current = _current_rng(owner)
    if isinstance(current, np.random.RandomState):
        owner.np_random = np.random.RandomState(seed)
    elif current is not None or _has_rng_property(owner):
        owner.np_random = np.random.default_rng(seed)


def _is_own(owner: Any, name: str) -> bool:
    """`name` is defined by the user's class, not inherited from gym's or gymnasium's base."""
    for cls in type(owner).__mro__:
        if name in vars(cls):
            return cls.__module__.split(".")[0] not in ("gym", "gymnasium")
    return False


def _current_rng(owner: Any) -> Any:
    """The owner's np_random without creating one (gym / gymnasium create it on first read)."""
    for attr in ("_np_random", "np_random"):
        own = vars(owner).get(attr) if hasattr(owner, "__dict__") else None
        if own is not None:
            return own
    return None


def _has_rng_property(owner: Any) -> bool:
    return isinstance(inspect.getattr_static(type(owner), "np_random", None), property)


def seed_legacy_sampler(owner: Any, rng: np.random.Generator) -> None:
    """Before a call of a legacy `sample_tasks(n)` (no generator argument) on `owner`: seeds
    numpy's global generator and the owner's own np_random from `rng`, so that the tasks depend
    on the run's seed only."""
    seed = int(rng.integers(2**31 - 1))
    np.random.seed(seed)
    reseed_own_rng(owner, seed)


def signature_accepts(fn: Callable[..., Any], name: str) -> bool:
    """fn takes a parameter `name` (or **kwargs)."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == name or p.kind is inspect.Parameter.VAR_KEYWORD for p in params)
