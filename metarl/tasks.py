"""Task families: the protocol and the registry.

A task family is a Gymnasium env with two extra methods::

    sample_tasks(n, rng) -> list[task]     # rng: np.random.Generator
    set_task(task) -> None                 # the task stays fixed across reset() until set again

Envs written for learn2learn, garage or pytorch-maml-rl (``sample_tasks(n)`` without an rng, and
``set_task`` or ``reset_task``, on the env or on a wrapper around it) are accepted as they are,
old-gym envs included (metarl/old_gym.py). An env may add ``held_out_tasks(n, rng)``: evaluation
then adapts on those instead of on ``sample_tasks`` (Meta-World's test tasks).

The sampler never steps single envs: it asks the family for a *batched env* of M sub-envs (one per
task x episode), whose ``step`` takes and returns tensors (metarl/vec/). Built-in families may ship
a native torch implementation (point-goal steps on the GPU); every other family's envs are stepped
on the host, in this process, in worker processes or in Ray actors.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import importlib.util
import inspect
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from metarl import old_gym, vec
from metarl.errors import EnvError, unknown_name
from metarl.task_methods import find_method, seed_legacy_sampler
from metarl.vec.base import BatchedEnv, Task


class HorizonWarning(UserWarning):
    """A task family without a declared horizon: DEFAULT_HORIZON is used."""


def sample_tasks_from(
    env: gym.Env, n: int, rng: np.random.Generator, method: str = "sample_tasks"
) -> list[Task]:
    """Calls env.sample_tasks (or `method`, on the env or a wrapper around it) with or without an
    rng, whichever it accepts."""
    found = find_method(env, (method,))
    if found is None:
        raise EnvError(
            f"{type(env.unwrapped).__name__} has no {method}(n, rng) method. Expected a task "
            "family: a Gymnasium env with sample_tasks(n, rng) and set_task(task). Add it."
        )
    owner, _, fn = found
    params = list(inspect.signature(fn).parameters)
    if len(params) >= 2:
        tasks = fn(n, rng)
    else:
        # Legacy signature sample_tasks(n) draws from numpy's global state or the env's own
        # np_random: seed both from our generator so that the run stays reproducible.
        seed_legacy_sampler(owner, rng)
        tasks = fn(n)
    tasks = list(tasks)
    if len(tasks) != n:
        raise EnvError(f"{method}({n}) returned {len(tasks)} tasks; expected exactly {n}.")
    return tasks


@dataclass
class TaskFamily:
    """A resolved task family: how to make its envs, its horizon, and where its tasks come from."""

    name: str
    make_env: Callable[[], gym.Env]
    horizon: int
    make_native: Callable[[int, torch.device], BatchedEnv] | None = None
    builtin: bool = False
    imports: tuple[str, ...] = ()
    """Modules that set the family up (Gymnasium registrations, register() calls): sampler
    workers import them before building their envs."""
    notes: list[str] = field(default_factory=list)
    """What metarl did to run the family (e.g. converted an old-gym env), for check_env and the
    trainer to show."""

    def __post_init__(self) -> None:
        self._prototype: gym.Env | None = None

    @property
    def prototype(self) -> gym.Env:
        if self._prototype is None:
            self._prototype = self.make_env()
        return self._prototype

    def sample_tasks(self, n: int, rng: np.random.Generator) -> list[Task]:
        return sample_tasks_from(self.prototype, n, rng)

    def held_out_tasks(self, n: int, rng: np.random.Generator) -> list[Task]:
        """Tasks to evaluate on: the env's held_out_tasks(n, rng) when it has one (a benchmark's
        test split, e.g. Meta-World's), else sample_tasks from the caller's held-out stream."""
        if find_method(self.prototype, ("held_out_tasks",)) is not None:
            return sample_tasks_from(self.prototype, n, rng, method="held_out_tasks")
        return self.sample_tasks(n, rng)

    def paper_tasks(self, n: int) -> list[Task]:
        """The tasks of the MAML paper's released evaluation scripts (`eval.tasks: paper`): the
        env's paper_tasks(n), which the built-in point-goal, cheetah and ant families have."""
        found = find_method(self.prototype, ("paper_tasks",))
        if found is None:
            raise EnvError(
                f"eval.tasks: paper needs the paper's evaluation tasks, and {self.name} has none "
                "(no paper_tasks(n) method). The point-goal, cheetah-* and ant-* families have "
                "them; use eval.tasks: sampled (the default) for this family."
            )
        return list(found[2](n))

    def batched_env(
        self,
        num_envs: int,
        device: torch.device,
        seed: int = 0,
        num_workers: int | None = 0,
        groups: list[tuple[int, int]] | None = None,
        backend: str = "local",
        address: str | None = None,
    ) -> BatchedEnv:
        """The family's native batched env if it has one (whatever the backend); else Gymnasium
        envs stepped by step `groups`: in this process (num_workers=0), in local worker processes
        (backend 'local'; None: one per CPU) or in Ray actors (backend 'ray', on the Ray cluster
        at `address`, None: a local one; None workers: one per CPU of the cluster)."""
        if self.make_native is not None:
            return self.make_native(num_envs, device)
        return vec.host_batched_env(
            self.make_env,
            num_envs,
            device,
            seed,
            num_workers,
            self.imports,
            groups,
            backend,
            address,
        )


def _point_goal() -> TaskFamily:
    from metarl.envs.point_goal import HORIZON, PointGoalEnv, PointGoalVectorEnv

    return TaskFamily(
        name="point-goal",
        make_env=PointGoalEnv,
        horizon=HORIZON,
        make_native=PointGoalVectorEnv,
        builtin=True,
    )


def _bandit() -> TaskFamily:
    from metarl.envs.bandit import HORIZON, BanditEnv

    return TaskFamily(name="bandit", make_env=BanditEnv, horizon=HORIZON, builtin=True)


def _cheetah_vel() -> TaskFamily:
    from metarl.envs.mujoco.half_cheetah import HORIZON, HalfCheetahVelEnv

    return TaskFamily(name="cheetah-vel", make_env=HalfCheetahVelEnv, horizon=HORIZON, builtin=True)


def _cheetah_dir() -> TaskFamily:
    from metarl.envs.mujoco.half_cheetah import HORIZON, HalfCheetahDirEnv

    return TaskFamily(name="cheetah-dir", make_env=HalfCheetahDirEnv, horizon=HORIZON, builtin=True)


def _ant_vel() -> TaskFamily:
    from metarl.envs.mujoco.ant import HORIZON, AntVelEnv

    return TaskFamily(name="ant-vel", make_env=AntVelEnv, horizon=HORIZON, builtin=True)


def _ant_dir() -> TaskFamily:
    from metarl.envs.mujoco.ant import HORIZON, AntDirEnv

    return TaskFamily(name="ant-dir", make_env=AntDirEnv, horizon=HORIZON, builtin=True)


def _meta_world(spec: str) -> TaskFamily:
    """ml1/<task> or ml10: Meta-World's meta-learning benchmarks (envs/meta_world.py)."""
    from metarl.envs import meta_world

    if spec == "ml10":
        benchmark, task = "ML10", None
    else:
        benchmark, task = "ML1", spec.removeprefix("ml1/")
        names = meta_world.task_names()
        if task not in names:
            raise unknown_name(
                "Meta-World task", task, names, hint="Use --env ml1/<task>, e.g. ml1/reach-v3."
            )
    return TaskFamily(
        name=spec,
        make_env=functools.partial(meta_world.MetaWorldTaskEnv, benchmark, task),
        horizon=meta_world.HORIZON,
        builtin=True,
    )


def _rllab(name: str, class_name: str) -> Callable[[], TaskFamily]:
    """A family in the MAML paper's own rllab envs (envs/mujoco/rllab.py)."""

    def factory() -> TaskFamily:
        from metarl.envs.mujoco import rllab

        make_env = getattr(rllab, class_name)
        return TaskFamily(name=name, make_env=make_env, horizon=rllab.HORIZON, builtin=True)

    return factory


FAMILIES: dict[str, Callable[[], TaskFamily]] = {
    "point-goal": _point_goal,
    "bandit": _bandit,
    "cheetah-vel": _cheetah_vel,
    "cheetah-dir": _cheetah_dir,
    "ant-vel": _ant_vel,
    "ant-dir": _ant_dir,
    "cheetah-vel-rllab": _rllab("cheetah-vel-rllab", "RllabHalfCheetahVelEnv"),
    "cheetah-dir-rllab": _rllab("cheetah-dir-rllab", "RllabHalfCheetahDirEnv"),
    "ant-vel-rllab": _rllab("ant-vel-rllab", "RllabAntVelEnv"),
    "ant-dir-rllab": _rllab("ant-dir-rllab", "RllabAntDirEnv"),
}
PATTERNS = ("ml1/<task>", "ml10")
"""Built-in names with a parameter (Meta-World), listed with the valid choices."""
ENTRY_POINT_GROUP = "metarl.task_families"
DEFAULT_HORIZON = 200
# What gymnasium.make puts around an env: metarl cuts episodes at the horizon itself.
_GYMNASIUM_DEFAULT_WRAPPERS = ("TimeLimit", "OrderEnforcing", "PassiveEnvChecker")


def register(name: str, env: str | Callable[[], gym.Env], horizon: int | None = None) -> None:
    """Registers a task family under `name`, so that `train.py --env name` finds it.

    `env` is an env class, a function returning an env, 'package.module:ClassName', or the id of
    a Gymnasium or old-gym registration. `horizon` defaults to the env's registration
    (max_episode_steps) or `horizon` attribute, else DEFAULT_HORIZON. Call it in a module that
    train.py imports (`--import my_package`), or expose the env through an entry point in the
    group 'metarl.task_families' instead.
    """

    def factory() -> TaskFamily:
        if isinstance(env, str) and ":" not in env:
            return _from_id(env, horizon, name)
        make = _load_callable(env, name) if isinstance(env, str) else env
        return _from_factory(name, make, horizon, entry_point=env)

    FAMILIES[name] = factory


def import_modules(modules: list[str], source: str = "from --import / env.imports") -> None:
    """Imports the user's modules that register task families (config env.imports / --import)."""
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as err:
            raise _import_error(module, err, f"Could not import '{module}' ({source})") from err
        except Exception as err:  # an error inside the user's module
            raise EnvError(
                f"Importing '{module}' ({source}) raised "
                f"{type(err).__name__}: {err}. Fix the module (python -c 'import {module}' shows "
                "the traceback)."
            ) from err


def _import_error(module: str, err: ImportError, what: str) -> EnvError:
    """Tells a module that is not there from one whose dependency is missing."""
    missing = getattr(err, "name", None) or ""
    if not isinstance(err, ModuleNotFoundError) or not missing:
        return EnvError(
            f"{what}: {type(err).__name__}: {err}. Fix the import in the module "
            f"(python -c 'import {module}' shows the traceback)."
        )
    top = missing.split(".")[0]
    extra = {
        "gym": f"an env for the old gym API needs the [gym] extra: {old_gym.EXTRA}",
        "shimmy": f"install the [gym] extra: {old_gym.EXTRA}",
        "metaworld": 'install the [metaworld] extra: pip install "metarl[metaworld]"',
    }.get(top)
    if module == missing or module.startswith(missing + "."):
        return EnvError(
            f"{what}: {err}. "
            + (
                f"It is one of metarl's optional dependencies: {extra}."
                if extra
                else "Install the package (pip install -e path/to/it) or add its directory to "
                "PYTHONPATH."
            )
        )
    install = extra or f"install it (pip install {top}, or the package that provides it)"
    return EnvError(
        f"{what}: the module was found, but a module it imports, '{missing}', is not installed "
        f"({err}). A missing dependency, not a missing module: {install}."
    )


def _entry_points() -> dict[str, object]:
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def make_family(
    spec: str, horizon: int | None = None, imports: list[str] | None = None
) -> TaskFamily:
    """Resolves a registered name (built-in, register() or an entry point), a
    'package.module:ClassName' path, or the id of a Gymnasium or old-gym registration."""
    import metarl.envs  # noqa: F401  (built-in Gymnasium ids, e.g. metarl/PointGoal-v0)

    imports = list(imports or [])
    import_modules(imports)
    module_part, _, rest = spec.partition(":")
    if rest and "/" in rest and "/" not in module_part:
        # Gymnasium's own "module:namespace/Name-vN" form: import the module, then use the id.
        import_modules([module_part], f"the module of --env {spec}")
        imports.append(module_part)
        spec = rest
    if spec in FAMILIES:
        family = FAMILIES[spec]()
    elif spec == "ml10" or spec.startswith("ml1/"):
        family = _meta_world(spec)
    elif ":" in spec and "/" not in spec.split(":")[0]:
        family = _from_factory(spec, _load_callable(spec, spec), horizon, entry_point=spec)
    elif spec in gym.registry or old_gym.spec(spec) is not None:
        family = _from_id(spec, horizon)
    elif spec in (eps := _entry_points()):
        family = _from_factory(spec, eps[spec].load(), horizon)
    else:
        raise unknown_name(
            "env", spec, [*FAMILIES, *PATTERNS, *eps], hint=_unknown_env_hint(spec, imports)
        )
    if horizon is not None:
        family.horizon = horizon
    family.imports = ("metarl.envs", *imports)
    return family


def _unknown_env_hint(spec: str, imports: list[str]) -> str:
    """What to try for an unknown env: never a flag already given, only importable modules."""
    namespace = spec.split("/")[0] if "/" in spec else None
    hints = []
    if namespace is not None and namespace.lower().replace("-", "") == "metaworld":
        hints.append("Meta-World is built in: --env ml1/<task> (e.g. ml1/reach-v3) or --env ml10.")
    if imports:
        registered = [*gym.registry, *old_gym.registered_ids()]
        close = difflib.get_close_matches(spec, registered, n=3, cutoff=0.6)
        given = " ".join(f"--import {m}" for m in imports)
        hints.append(
            f"After {given}, neither Gymnasium's registry nor the old gym registry has "
            f"'{spec}'"
            + (f" (registered ids close to it: {', '.join(close)})" if close else "")
            + ". Check the id, and that the imported module registers it when imported."
        )
    else:
        module = _importable_module(namespace) if namespace else None
        hints.append(
            f"If package '{module}' registers it, add --import {module}."
            if module
            else "If a package of yours registers it (with Gymnasium, gym or metarl.register), "
            "add --import PACKAGE."
        )
    hints.append(
        "An env can also be 'package.module:ClassName' or a registered id whose env has "
        "sample_tasks and set_task (see docs/custom_envs.md)."
    )
    return " ".join(hints)


def _importable_module(namespace: str) -> str | None:
    """A module name that an id's namespace could stand for and that can be imported, or None
    (namespaces are often spelled differently from their package: Meta-World vs metaworld)."""
    candidates = [namespace, namespace.lower(), namespace.lower().replace("-", "_")]
    candidates.append(namespace.lower().replace("-", ""))
    for name in dict.fromkeys(candidates):
        if all(part.isidentifier() for part in name.split(".")) and _module_exists(name):
            return name
    return None


def _module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _build(make: Callable[[], gym.Env], name: str) -> gym.Env:
    """Calls the user's env factory once; an exception in it becomes an EnvError naming it."""
    try:
        return make()
    except Exception as err:
        where = getattr(make, "__qualname__", repr(make))
        frame = traceback.extract_tb(err.__traceback__)[-1]
        raise EnvError(
            f"Creating env '{name}' failed: {where}() raised {type(err).__name__}: {err} "
            f"(at {frame.filename}:{frame.lineno}, in {frame.name}). "
            "Fix the env's constructor (it must work with no arguments); run "
            f"python -m metarl.check_env {name} --debug for the traceback."
        ) from err


def _load_callable(spec: str, name: str) -> Callable[[], gym.Env]:
    module_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise _import_error(
            module_name, err, f"Could not import module '{module_name}' for env '{name}'"
        ) from err
    except Exception as err:  # a SyntaxError or NameError in the user's module
        raise EnvError(
            f"Importing module '{module_name}' for env '{name}' raised {type(err).__name__}: "
            f"{err}. Fix the module (python -c 'import {module_name}' shows the traceback)."
        ) from err
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise EnvError(
            f"Module '{module_name}' has no class or function '{attr}' (env '{name}'). "
            f"Expected 'package.module:ClassName' naming an env class or a function returning one."
        )
    return factory


def _from_factory(
    name: str,
    make: Callable[[], Any],
    horizon: int | None,
    entry_point: str | Callable[..., Any] | None = None,
) -> TaskFamily:
    """A family from an env factory: a Gymnasium env as it is, an old-gym env converted.

    The horizon: `horizon`, else a registration (Gymnasium's or the old registry's) with this
    entry point, else the env's own (_horizon_of).
    """
    env = _build(make, name)
    notes = []
    if old_gym.is_old_gym_env(env):
        old_gym.require_shimmy(name)
        env, time_limit = old_gym.strip_default_wrappers(env)
        if horizon is None:
            horizon = old_gym.horizon_of_entry_point(entry_point or make) or time_limit
        make, env = old_gym.Converted(make), old_gym.convert(env)
        notes.append(old_gym.describe(name))
    elif horizon is None and isinstance(entry_point, str):
        registered = [s for s in gym.registry.values() if s.entry_point == entry_point]
        horizon = next((s.max_episode_steps for s in registered if s.max_episode_steps), None)
    family = TaskFamily(name=name, make_env=make, horizon=_horizon_of(env, horizon, make))
    family.notes = notes
    family._prototype = env  # built already: the first sample_tasks needs no second one
    return family


def _from_id(spec: str, horizon: int | None, name: str | None = None) -> TaskFamily:
    """A family from a Gymnasium id, or else an id of the old gym registry."""
    name = name or spec
    if spec in gym.registry:
        env_spec = gym.spec(spec)
        if env_spec.entry_point is None:
            raise _no_entry_point(spec, env_spec)

        def make() -> gym.Env:
            return _strip_gymnasium_defaults(gym.make(spec, disable_env_checker=True))

        registry = "Gymnasium id"
    else:
        env_spec = old_gym.spec(spec)
        make = old_gym.factory_of(spec)
        registry = "Old gym id"
    if env_spec.max_episode_steps is None and horizon is None:
        raise EnvError(
            f"{registry} '{spec}' is registered without max_episode_steps, so metarl cannot tell "
            "how long an episode lasts. Register it with max_episode_steps=H, or pass the horizon "
            "(--set env.horizon=H; check_env: --horizon H)."
        )
    return _from_factory(name, make, horizon or int(env_spec.max_episode_steps))


def _strip_gymnasium_defaults(env: gym.Env) -> gym.Env:
    """The env without the wrappers gymnasium.make adds; wrappers of the user's own stay (they
    may carry the task methods)."""
    while isinstance(env, gym.Wrapper) and type(env).__name__ in _GYMNASIUM_DEFAULT_WRAPPERS:
        if not type(env).__module__.startswith("gymnasium."):
            break
        env = env.env
    return env


def _no_entry_point(spec: str, env_spec: Any) -> EnvError:
    vector = getattr(env_spec, "vector_entry_point", None) is not None
    namespace = spec.split("/")[0] if "/" in spec else ""
    advice = (
        "Meta-World is built in: use --env ml1/<task> (e.g. ml1/reach-v3) or --env ml10."
        if namespace.lower().replace("-", "") == "metaworld"
        else "Point --env at the env class instead ('package.module:ClassName')."
    )
    return EnvError(
        f"Gymnasium id '{spec}' is registered without an entry point for a single env"
        + (" (it has only a vector_entry_point, which builds a vector of envs)" if vector else "")
        + f", so there is no env to step as a task family: the registration offers none. {advice}"
    )


def _horizon_of(env: gym.Env, override: int | None, make: Any = None) -> int:
    """Config, then registration, then a `horizon` attribute, then DEFAULT_HORIZON."""
    if not isinstance(env, gym.Env):
        what = (
            f"--env names the class {make.__name__}, which is not an env (a subclass of neither "
            "gymnasium.Env nor the old gym.Env). Point --env at your env class"
            if inspect.isclass(make)
            else "Point --env at an env class"
        )
        raise EnvError(
            f"The task family's factory: expected a gymnasium.Env, got an instance of "
            f"{type(env).__name__}. {what} (or a function returning an env instance)."
        )
    if override is not None:
        return override
    spec = getattr(env, "spec", None)
    if spec is not None and spec.max_episode_steps:
        return int(spec.max_episode_steps)
    for attr in ("horizon", "max_episode_steps", "max_path_length"):
        horizon = getattr(env.unwrapped, attr, None)
        if isinstance(horizon, int) and horizon > 0:
            return horizon
    warnings.warn(
        f"{type(env.unwrapped).__name__} declares no horizon (no Gymnasium registration "
        "with max_episode_steps, no 'horizon', 'max_episode_steps' or 'max_path_length' "
        f"attribute): episodes are cut at {DEFAULT_HORIZON} steps. Choose with "
        "--set env.horizon=H (check_env: --horizon H).",
        HorizonWarning,
        stacklevel=3,
    )
    return DEFAULT_HORIZON
