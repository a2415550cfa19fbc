"""Task families: the protocol, the registry, and the batched-env form the sampler steps.

A task family is a Gymnasium env with two extra methods::

    sample_tasks(n, rng) -> list[task]     # rng: np.random.Generator
    set_task(task) -> None                 # the task stays fixed across reset() until set again

Envs written for learn2learn, garage or pytorch-maml-rl (``sample_tasks(n)`` without an rng, and
``set_task`` or ``reset_task``) are accepted as they are.

The sampler never steps single envs: it asks the family for a *batched env* of M sub-envs (one per
task x episode), whose ``step`` takes and returns tensors. Built-in families may ship a native
torch implementation (point-goal steps on the GPU); every other family is wrapped by
`GymnasiumBatchedEnv`, which steps ordinary Gymnasium envs and converts once per step.
"""

from __future__ import annotations

import importlib
import inspect
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import gymnasium as gym
import numpy as np
import torch

from metarl.envblock import DONE, REWARD, EnvBlock, SpaceInfo
from metarl.errors import EnvError, unknown_name

Task = Any


class HorizonWarning(UserWarning):
    """A task family without a declared horizon: DEFAULT_HORIZON is used."""


class BatchedEnv(Protocol):
    """M sub-envs stepped together; sub-env j runs tasks[j]. Tensors live on `device`."""

    num_envs: int
    obs_dim: int
    act_dim: int
    device: torch.device

    def set_tasks(self, tasks: list[Task]) -> None: ...

    def reset(self) -> torch.Tensor: ...

    def step(self, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]: ...

    def close(self) -> None: ...


def sample_tasks_from(env: gym.Env, n: int, rng: np.random.Generator) -> list[Task]:
    """Calls env.sample_tasks with or without an rng, whichever the env accepts."""
    fn = getattr(env.unwrapped, "sample_tasks", None)
    if not callable(fn):
        raise EnvError(
            f"{type(env.unwrapped).__name__} has no sample_tasks(n, rng) method. Expected a task "
            "family: a Gymnasium env with sample_tasks(n, rng) and set_task(task). Add it."
        )
    params = list(inspect.signature(fn).parameters)
    if len(params) >= 2:
        tasks = fn(n, rng)
    else:
        # Legacy signature sample_tasks(n) draws from numpy's global state: seed it from our
        # generator so that the run stays reproducible.
        np.random.seed(int(rng.integers(2**31 - 1)))
        tasks = fn(n)
    tasks = list(tasks)
    if len(tasks) != n:
        raise EnvError(f"sample_tasks({n}) returned {len(tasks)} tasks; expected exactly {n}.")
    return tasks


class HostBatchedEnv:
    """Gymnasium sub-envs stepped on the host by step groups, in this process, in worker
    processes (metarl/parallel.py) or in Ray actors (metarl/ray_sampler.py). What all three share:
    the spaces, the groups, the sub-env seeds, and the trip of the packed results to the device.

    Subclasses implement set_tasks, reset, step_async(group, actions), step_wait(group), close.
    """

    def __init__(
        self,
        spaces: SpaceInfo,
        num_envs: int,
        device: torch.device,
        seed: int,
        groups: list[tuple[int, int]] | None,
    ) -> None:
        self.num_envs = num_envs
        self.device = torch.device(device)
        self.host_stepped = True  # CPU simulators: see Sampler._threads
        self.groups = groups or [(0, num_envs)]
        self.obs_dim, self.act_dim = spaces.obs_dim, spaces.act_dim
        self._seed = seed
        self.resets = 0
        self._tasks: list[Task] = [None] * num_envs
        # On a GPU, results cross in one transfer per group and step from page-locked memory.
        self._staging = (
            torch.empty((num_envs, self.obs_dim + 2), dtype=torch.float32).pin_memory()
            if self.device.type == "cuda"
            else None
        )

    def _remember_tasks(self, tasks: list[Task]) -> None:
        if len(tasks) != self.num_envs:
            raise ValueError(f"expected {self.num_envs} tasks (one per sub-env), got {len(tasks)}")
        self._tasks = list(tasks)

    def _next_seed(self) -> int:
        """A distinct, reproducible seed per sub-env and reset: sub-env j gets this + j, whatever
        the split into groups and workers."""
        seed = self._seed + self.resets * self.num_envs
        self.resets += 1
        return seed

    def _results(
        self, out: np.ndarray, a: int, b: int
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Rows a..b-1 of the packed results `out` on the device, in one transfer."""
        if self._staging is None:
            return split_outputs(to_device(out[a:b], self.device))
        staging = self._staging[a:b]
        staging.numpy()[:] = out[a:b]
        # Synchronous on purpose: the staging rows are reused at the group's next step.
        return split_outputs(staging.to(self.device))

    def step_async(self, group: int, actions: torch.Tensor) -> None:
        raise NotImplementedError

    def step_wait(self, group: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def step(self, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """All groups at once (the Sampler pipelines step_async / step_wait instead)."""
        for g, (a, b) in enumerate(self.groups):
            self.step_async(g, actions[a:b])
        results = [self.step_wait(g) for g in range(len(self.groups))]
        return tuple(torch.cat(parts) for parts in zip(*results))  # type: ignore[return-value]


class GymnasiumBatchedEnv(HostBatchedEnv):
    """In-process batched env over ordinary Gymnasium envs (any task family works through it).

    One EnvBlock per step group, stepped when the group's step starts, so that it gives the
    same episodes as the worker-process and Ray envs.
    """

    def __init__(
        self,
        make_env: Callable[[], gym.Env],
        num_envs: int,
        device: torch.device,
        seed: int = 0,
        groups: list[tuple[int, int]] | None = None,
    ) -> None:
        groups = groups or [(0, num_envs)]
        self.blocks = [EnvBlock(make_env, a, b - a) for a, b in groups]
        super().__init__(self.blocks[0].spaces, num_envs, device, seed, groups)
        self._out = np.zeros((num_envs, self.obs_dim + 2), dtype=np.float32)

    def set_tasks(self, tasks: list[Task]) -> None:
        self._remember_tasks(tasks)
        for block, (a, b) in zip(self.blocks, self.groups):
            block.set_tasks(self._tasks[a:b])

    def reset(self) -> torch.Tensor:
        seed = self._next_seed()
        for block, (a, b) in zip(self.blocks, self.groups):
            block.reset(seed, self._out[a:b])
        return self._results(self._out, 0, self.num_envs)[0]

    def step_async(self, group: int, actions: torch.Tensor) -> None:
        a, b = self.groups[group]
        self.blocks[group].step(actions.detach().cpu().numpy(), self._out[a:b])

    def step_wait(self, group: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self._results(self._out, *self.groups[group])

    def close(self) -> None:
        for block in self.blocks:
            block.close()


def to_device(array: np.ndarray, device: torch.device) -> torch.Tensor:
    """A copy of `array` on `device`, in one transfer."""
    return torch.tensor(array, device=device)


def split_outputs(out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A packed [M, obs_dim + 2] output -> observations, rewards, done flags."""
    return out[:, :REWARD].contiguous(), out[:, REWARD], out[:, DONE] > 0.5


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

    def __post_init__(self) -> None:
        self._prototype: gym.Env | None = None

    @property
    def prototype(self) -> gym.Env:
        if self._prototype is None:
            self._prototype = self.make_env()
        return self._prototype

    def sample_tasks(self, n: int, rng: np.random.Generator) -> list[Task]:
        return sample_tasks_from(self.prototype, n, rng)

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
        if backend == "ray":
            from metarl.ray_sampler import RayBatchedEnv

            return RayBatchedEnv(
                self.make_env, num_envs, device, seed, num_workers, self.imports, groups, address
            )
        if num_workers == 0:
            return GymnasiumBatchedEnv(self.make_env, num_envs, device, seed, groups)
        from metarl.parallel import ParallelBatchedEnv

        return ParallelBatchedEnv(
            self.make_env, num_envs, device, seed, num_workers, self.imports, groups
        )


def _point_goal() -> TaskFamily:
    from envs.point_goal import HORIZON, PointGoalEnv, PointGoalVectorEnv

    return TaskFamily(
        name="point-goal",
        make_env=PointGoalEnv,
        horizon=HORIZON,
        make_native=PointGoalVectorEnv,
        builtin=True,
    )


def _bandit() -> TaskFamily:
    from envs.bandit import HORIZON, BanditEnv

    return TaskFamily(name="bandit", make_env=BanditEnv, horizon=HORIZON, builtin=True)


def _cheetah_vel() -> TaskFamily:
    from envs.mujoco.half_cheetah import HORIZON, HalfCheetahVelEnv

    return TaskFamily(name="cheetah-vel", make_env=HalfCheetahVelEnv, horizon=HORIZON, builtin=True)


def _cheetah_dir() -> TaskFamily:
    from envs.mujoco.half_cheetah import HORIZON, HalfCheetahDirEnv

    return TaskFamily(name="cheetah-dir", make_env=HalfCheetahDirEnv, horizon=HORIZON, builtin=True)


def _ant_vel() -> TaskFamily:
    from envs.mujoco.ant import HORIZON, AntVelEnv

    return TaskFamily(name="ant-vel", make_env=AntVelEnv, horizon=HORIZON, builtin=True)


def _ant_dir() -> TaskFamily:
    from envs.mujoco.ant import HORIZON, AntDirEnv

    return TaskFamily(name="ant-dir", make_env=AntDirEnv, horizon=HORIZON, builtin=True)


def _rllab(name: str, class_name: str) -> Callable[[], TaskFamily]:
    """A family in the MAML paper's own rllab envs (envs/mujoco/rllab.py)."""

    def factory() -> TaskFamily:
        from envs.mujoco import rllab

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
ENTRY_POINT_GROUP = "metarl.task_families"
DEFAULT_HORIZON = 200


def register(name: str, env: str | Callable[[], gym.Env], horizon: int | None = None) -> None:
    """Registers a task family under `name`, so that `train.py --env name` finds it.

    `env` is an env class, a function returning an env, or 'package.module:ClassName'. `horizon`
    defaults to the env's Gymnasium registration or `horizon` attribute, else DEFAULT_HORIZON.
    Call it in a module that train.py imports (`--import my_package`), or expose the env through
    an entry point in the group 'metarl.task_families' instead.
    """

    def factory() -> TaskFamily:
        make = _load_callable(env, name) if isinstance(env, str) else env
        return TaskFamily(
            name=name, make_env=make, horizon=_horizon_of(_build(make, name), horizon)
        )

    FAMILIES[name] = factory


def import_modules(modules: list[str]) -> None:
    """Imports the user's modules that register task families (config env.imports / --import)."""
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as err:
            raise EnvError(
                f"Could not import '{module}' (from --import / env.imports): {err}. Install the "
                "package (pip install -e path/to/it) or add its directory to PYTHONPATH."
            ) from err
        except Exception as err:  # an error inside the user's module
            raise EnvError(
                f"Importing '{module}' (from --import / env.imports) raised "
                f"{type(err).__name__}: {err}. Fix the module (python -c 'import {module}' shows "
                "the traceback)."
            ) from err


def _entry_points() -> dict[str, object]:
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def make_family(
    spec: str, horizon: int | None = None, imports: list[str] | None = None
) -> TaskFamily:
    """Resolves a registered name (built-in, register() or an entry point), a
    'package.module:ClassName' path or a Gymnasium id."""
    import envs  # noqa: F401  (built-in Gymnasium ids, e.g. metarl/PointGoal-v0)

    imports = list(imports or [])
    import_modules(imports)
    module_part, _, rest = spec.partition(":")
    if rest and "/" in rest and "/" not in module_part:
        # Gymnasium's own "module:namespace/Name-vN" form: import the module, then use the id.
        import_modules([module_part])
        imports.append(module_part)
        spec = rest
    if spec in FAMILIES:
        family = FAMILIES[spec]()
    elif ":" in spec and "/" not in spec.split(":")[0]:
        make = _load_callable(spec, spec)
        family = TaskFamily(
            name=spec, make_env=make, horizon=_horizon_of(_build(make, spec), horizon)
        )
    elif spec in gym.registry:
        family = _from_gym_id(spec, horizon)
    elif spec in (eps := _entry_points()):
        make = eps[spec].load()
        family = TaskFamily(
            name=spec, make_env=make, horizon=_horizon_of(_build(make, spec), horizon)
        )
    else:
        namespace = spec.split("/")[0] if "/" in spec else None
        first = (
            f"If package '{namespace}' registers it with Gymnasium, add --import {namespace}. "
            if namespace and not imports
            else "If a package of yours registers it, add --import PACKAGE. "
        )
        raise unknown_name(
            "env",
            spec,
            [*FAMILIES, *eps],
            hint=first + "An env can also be 'package.module:ClassName' or a Gymnasium id whose "
            "env has sample_tasks and set_task (see docs/custom_envs.md).",
        )
    if horizon is not None:
        family.horizon = horizon
    family.imports = ("envs", *imports)
    return family


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
        raise EnvError(
            f"Could not import module '{module_name}' for env '{name}': {err}. Check that the "
            "package is installed (pip install -e .) or on PYTHONPATH."
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


def _from_gym_id(spec: str, horizon: int | None) -> TaskFamily:
    env_spec = gym.spec(spec)
    if env_spec.max_episode_steps is None and horizon is None:
        raise EnvError(
            f"Gymnasium id '{spec}' is registered without max_episode_steps, so metarl cannot tell "
            "how long an episode lasts. Register it with max_episode_steps=H, or pass the horizon "
            "(--set env.horizon=H; check_env: --horizon H)."
        )

    def make() -> gym.Env:
        return gym.make(spec, disable_env_checker=True).unwrapped

    return TaskFamily(name=spec, make_env=make, horizon=horizon or int(env_spec.max_episode_steps))


def _horizon_of(env: gym.Env, override: int | None) -> int:
    """Config, then Gymnasium registration, then a `horizon` attribute, then DEFAULT_HORIZON."""
    if not isinstance(env, gym.Env):
        raise EnvError(
            f"The task family's factory: expected a gymnasium.Env, got an instance of "
            f"{type(env).__name__}. Point --env at an env class (or a function returning an env "
            "instance)."
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
