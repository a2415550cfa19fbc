"""Task families written for the old `gym` package (OpenAI gym 0.x), run through Farama's shimmy.

Years of meta-RL task families (pytorch-maml-rl, learn2learn, garage before 2023) subclass
`gym.Env`: `reset()` returns only the observation or `(obs, info)`, `step()` a 4-tuple
`(obs, reward, done, info)` or the 5-tuple, and the horizon lives in the old registry's
`max_episode_steps`. metarl recognises such an env by its class, converts it with shimmy's
compatibility env (spaces, attribute forwarding, render, close) and adds what shimmy leaves to the
caller: seeding the old env on reset (its own `seed()` method, `reset(seed=...)`, or a new
`np_random`), and either step tuple.

The old registry is only read when `gym` is already imported (by the user's module): metarl never
imports gym itself. Needs the [gym] extra: pip install "metarl[gym]".
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from metarl.errors import EnvError

EXTRA = 'pip install "metarl[gym]"'
"""Installs gym 0.26.2 and shimmy (pyproject.toml's [gym] extra)."""

# gym.make stacks these around an env; metarl cuts episodes itself, and the passive checker calls
# np.bool8, which numpy 2 removed.
_DEFAULT_WRAPPERS = {
    "TimeLimit",
    "OrderEnforcing",
    "PassiveEnvChecker",
    "EnvCompatibility",
    "StepAPICompatibility",
}


def is_old_gym_env(obj: Any) -> bool:
    """An instance of a subclass of the old `gym.Env` (gym.core.Env), wrappers included."""
    return any(c.__module__ == "gym.core" and c.__name__ == "Env" for c in type(obj).__mro__)


def gym_version() -> str:
    gym = sys.modules.get("gym")
    return getattr(gym, "__version__", "?")


def describe(name: str) -> str:
    """What the checker and the trainer say about a converted family."""
    return (
        f"{name} is an env for the old gym API (a subclass of gym.Env from gym {gym_version()}, "
        "not gymnasium.Env); metarl converts it with shimmy (installed by metarl[gym]), takes "
        "reset() with or without a seed and step() with 4 or 5 values, and seeds the env on "
        "every reset."
    )


def require_shimmy(name: str) -> None:
    """Raises an EnvError naming the [gym] extra when shimmy is missing."""
    if importlib.util.find_spec("shimmy") is None:
        raise EnvError(
            f"{name} is an env for the old gym API (a subclass of gym.Env from gym "
            f"{gym_version()}, not gymnasium.Env); metarl converts it with shimmy, which is not "
            f"installed. Install metarl[gym]: {EXTRA}"
        )


def strip_default_wrappers(env: Any) -> tuple[Any, int | None]:
    """The env without the wrappers old gym.make puts around it, and the TimeLimit's horizon."""
    horizon = None
    while type(env).__name__ in _DEFAULT_WRAPPERS and type(env).__module__.startswith("gym."):
        if type(env).__name__ == "TimeLimit":
            horizon = getattr(env, "_max_episode_steps", None)
        env = env.env
    return env, horizon


def convert(env: Any) -> Any:
    """The old-gym `env` as a gymnasium.Env (metarl.old_gym_env.OldGymEnv)."""
    from metarl.old_gym_env import OldGymEnv  # imports shimmy: only when an old env is used

    return OldGymEnv(env=strip_default_wrappers(env)[0])


@dataclass
class Converted:
    """A picklable env factory: calls the user's old-gym factory and converts what it returns.
    Sampler workers unpickle and call it."""

    make: Callable[[], Any]

    def __call__(self) -> Any:
        return convert(self.make())


# --- the old registry -------------------------------------------------------------------------


def _specs() -> dict[str, Any]:
    """The old gym registry's specs by id; empty when gym was never imported."""
    gym = sys.modules.get("gym")
    if gym is None:
        return {}
    registry = getattr(gym.envs.registration, "registry", {})
    # gym >= 0.26: a dict; gym 0.21-0.25: an EnvRegistry whose env_specs is the dict.
    return dict(registry if isinstance(registry, dict) else getattr(registry, "env_specs", {}))


def registered_ids() -> list[str]:
    return list(_specs())


def spec(env_id: str) -> Any | None:
    """The old registry's spec for `env_id`, or None."""
    return _specs().get(env_id)


def horizon_of_entry_point(target: str | Callable[..., Any]) -> int | None:
    """max_episode_steps of an old registration whose entry point is `target` ('module:Class' or
    the class itself): a class named by --env module:Class keeps its registered horizon."""
    for env_spec in _specs().values():
        entry = env_spec.entry_point
        if (entry == target or (callable(target) and entry == _path_of(target))) and (
            env_spec.max_episode_steps
        ):
            return int(env_spec.max_episode_steps)
    return None


def _path_of(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '')}:{getattr(obj, '__qualname__', '')}"


def factory_of(env_id: str) -> Callable[[], Any]:
    """A factory of the old registry's `env_id` (its entry point with its kwargs), unconverted."""
    env_spec = spec(env_id)
    assert env_spec is not None
    entry = env_spec.entry_point
    if entry is None:
        raise EnvError(
            f"The old gym registry has '{env_id}' without an entry point, so there is no env "
            "class to build. Register it with entry_point='package.module:ClassName'."
        )
    make = _load_entry_point(entry, env_id) if isinstance(entry, str) else entry
    kwargs = dict(getattr(env_spec, "kwargs", None) or getattr(env_spec, "_kwargs", None) or {})
    return functools.partial(make, **kwargs)


def _load_entry_point(entry: str, env_id: str) -> Callable[..., Any]:
    module_name, _, attr = entry.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise EnvError(
            f"The old gym registry's entry point of '{env_id}', '{entry}', cannot be imported: "
            f"{err}."
        ) from err
    target = getattr(module, attr, None)
    if not callable(target):
        raise EnvError(
            f"The old gym registry's entry point of '{env_id}', '{entry}': module "
            f"'{module_name}' has no class or function '{attr}'."
        )
    return target
