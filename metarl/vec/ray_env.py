"""Batched env whose sub-envs step in Ray actors: the local parallel sampler, across a cluster.

The same design as metarl/vec/parallel.py, with Ray actors in place of worker processes: the
sub-envs are split into step groups and each group into one contiguous chunk per actor
(`split_chunks`); an actor (metarl/vec/ray_actor.py) holds an EnvBlock per chunk. The policy stays
in the driver, on its device: each step sends every actor its rows of the actions and gets back
its rows of packed results (observation, reward, done), one `ray.get` per group and step. While
the actors step one group, the driver computes the actions of the other.

Sub-env j is reset with seed `seed + resets * M + j` whatever the split, so the episodes equal
those of the local samplers bit for bit (tests/test_ray_sampler.py).

An actor that dies (its process or its node) is replaced by a new one with the same sub-envs and
`ActorLost` is raised: Sampler.sample then samples the whole phase again (an episode cannot be
resumed mid-way). An env that raises is not retried (it would raise again): all actors are shut
down and a WorkerError names the sub-env and its task.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
from collections.abc import Callable
from typing import Any, NoReturn

import cloudpickle
import gymnasium as gym
import numpy as np
import ray
import torch
from ray.exceptions import GetTimeoutError, RayError, RayTaskError

from metarl.errors import ActorLost, SubEnvError, WorkerError
from metarl.vec.base import StepResult
from metarl.vec.block import OUT_COLUMNS, Task
from metarl.vec.parallel import ChunkedBatchedEnv, default_num_workers
from metarl.vec.ray_actor import RolloutActor

START_TIMEOUT_S = 300.0
"""How long actors may take to be placed and build their envs (a cluster may start nodes)."""
CLOSE_TIMEOUT_S = 2.0
"""How long close() lets actors close their envs before it kills them."""


def init_ray(address: str | None) -> None:
    """Joins the Ray cluster at `address` ('auto': the one `ray start` runs on this machine), or,
    with None, the one RAY_ADDRESS names (as under `ray job submit`), else starts a local Ray
    instance; unless the user's code has initialised Ray already (its settings are kept)."""
    if ray.is_initialized():
        return
    options: dict[str, Any] = {"address": address}
    if address is None and "RAY_ADDRESS" not in os.environ:
        # "local": a new instance even where `ray start` runs a cluster (ray.init() would join
        # it); one CPU per core this process may run on, as the local sampler's default.
        options = {"address": "local", "num_cpus": default_num_workers()}
    ray.init(
        **options,
        include_dashboard=False,
        log_to_driver=False,  # actor output goes to the Ray logs (/tmp/ray/session_latest/logs)
    )


class RayBatchedEnv(ChunkedBatchedEnv):
    """M sub-envs stepped by `num_workers` Ray actors (None: one per CPU of the Ray cluster)."""

    def __init__(
        self,
        make_env: Callable[[], gym.Env],
        num_envs: int,
        device: torch.device,
        seed: int = 0,
        num_workers: int | None = None,
        imports: tuple[str, ...] = (),
        groups: list[tuple[int, int]] | None = None,
        address: str | None = None,
    ) -> None:
        super().__init__(make_env, num_envs, device, seed, groups)
        init_ray(address)
        cpus = ray.cluster_resources().get("CPU", 1.0)
        actors = self._split(num_workers or max(int(cpus), 1))
        self._pending: dict[int, list[tuple[int, ray.ObjectRef]]] = {}
        # More actors than the cluster's CPUs share them (as more local workers than cores do)
        # instead of waiting for CPUs that will not come. Rounded down: Ray counts CPUs in fixed
        # point, and 3 x 0.667 would not fit in 2.
        share = min(1.0, math.floor(cpus / actors * 1000) / 1000)
        self._actor_class = ray.remote(num_cpus=share)(RolloutActor)
        self._make_env = cloudpickle.dumps(make_env)
        self._imports = imports
        self._out = np.zeros((num_envs, self.obs_dim + OUT_COLUMNS), dtype=np.float32)
        self._actors = [self._new_actor(k) for k in range(actors)]
        self._pids = self._started(range(actors))  # tests kill actors by process id

    @property
    def num_workers(self) -> int:
        return len(self._actors)

    def set_tasks(self, tasks: list[Task]) -> None:
        self._remember_tasks(tasks)
        refs = [(k, self._call(k, "set_tasks", self._tasks_of(k))) for k in range(self.num_workers)]
        self._get(refs, "setting tasks on")

    def reset(self) -> torch.Tensor:
        seed = self._next_seed()
        refs = [(k, self._call(k, "reset", seed)) for k in range(self.num_workers)]
        for k, rows in enumerate(self._get(refs, "resetting")):
            for g, out in rows.items():
                a, b = self.chunks[k][g]
                self._out[a:b] = out
        return self._results(self._out, 0, self.num_envs)[0]

    def step_async(self, group: int, actions: torch.Tensor) -> None:
        """Starts stepping group `group` (sub-envs a..b-1) with `actions` [b - a, act_dim]."""
        first = self.groups[group][0]
        # One device-to-host copy; float32, as the local sampler's shared actions array.
        acts = actions.detach().cpu().numpy().astype(np.float32, copy=False)
        # Each actor gets its own rows as an argument: measured faster than one ray.put of the
        # group's actions that each actor slices (2.4 vs 4.4 ms per step of 2 actors).
        pending = []
        for k in self._members[group]:
            a, b = self.chunks[k][group]
            pending.append((k, self._call(k, "step", group, acts[a - first : b - first])))
        self._pending[group] = pending

    def step_wait(self, group: int) -> StepResult:
        """Waits for the step of `group` started last; its observations, rewards, done flags
        and successes."""
        pending = self._pending.pop(group)
        for (k, _), out in zip(pending, self._get(pending, "stepping")):
            a, b = self.chunks[k][group]
            self._out[a:b] = out
        return self._results(self._out, *self.groups[group])

    def close(self) -> None:
        """Closes the actors' envs and kills the actors. Ray itself stays up: the user's code may
        use it, and the next sampler of this process (evaluation) starts faster."""
        if self._closed:
            return
        self._closed = True
        self._pending.clear()
        if not ray.is_initialized():  # the user shut Ray down: the actors are gone with it
            return
        refs = [actor.close.remote() for actor in self._actors]
        ray.wait(refs, num_returns=len(refs), timeout=CLOSE_TIMEOUT_S)
        for actor in self._actors:
            ray.kill(actor)

    def _new_actor(self, k: int) -> Any:
        return self._actor_class.remote(
            self._make_env, self._imports, self.chunks[k], list(sys.path)
        )

    def _started(self, actors: range | list[int]) -> list[int]:
        """Starts `actors` (their sub-envs); their process ids."""
        refs = [(k, self._actors[k].start.remote()) for k in actors]
        try:
            return self._get(refs, "starting", timeout=START_TIMEOUT_S)
        except GetTimeoutError:
            free = ray.available_resources().get("CPU", 0.0)
            total = ray.cluster_resources().get("CPU", 0.0)
            self.close()
            raise WorkerError(
                f"{len(refs)} sampler actor(s) were not started within {START_TIMEOUT_S:.0f} s. "
                f"The Ray cluster has {total:g} CPUs, {free:g} of them free: other jobs (or "
                "another sampler of this process) may hold them. Free them, add nodes, or use "
                "fewer actors (--set sampler.num_workers=N)."
            ) from None

    def _call(self, k: int, method: str, *args: Any) -> ray.ObjectRef:
        if self._closed:
            raise WorkerError("The sampler's actors were shut down; build a new sampler.")
        return getattr(self._actors[k], method).remote(*args)

    def _get(
        self, pending: list[tuple[int, ray.ObjectRef]], doing: str, timeout: float | None = None
    ) -> list[Any]:
        """The replies of `pending` (actor, reply) in one ray.get; an actor's error or death
        ends it (see _fail and _lose)."""
        try:
            return ray.get([ref for _, ref in pending], timeout=timeout)
        except GetTimeoutError:
            raise
        except RayError:
            for k, ref in pending:  # which actor: the first one whose reply is an error
                try:
                    ray.get(ref)
                except RayTaskError as err:
                    self._fail(k, doing, err)
                except RayError as err:
                    self._lose(k, doing, err)
            raise

    def _owned(self, k: int) -> str:
        return ", ".join(f"{a}..{b - 1}" for a, b in self.chunks[k] if b > a)

    def _fail(self, k: int, doing: str, err: RayTaskError) -> NoReturn:
        """An env (or the env factory) raised in actor k: the same would happen again."""
        cause = err.cause
        if isinstance(cause, SubEnvError):
            error = str(cause)
        else:
            error = f"{type(cause).__name__}: {cause}" if cause is not None else str(err)
        message = f"Sampler actor {k} failed while {doing} its sub-envs: {error.rstrip('.')}."
        if doing == "starting":
            message += (
                " An actor is a fresh process: it imports what env.imports (--import) names and "
                "unpickles the env factory. If the env needs setup done only in your script, "
                "move it into an importable module and pass --import MODULE; on a cluster, "
                "install the package on every node (see docs/scaling.md)."
            )
        self.close()
        raise WorkerError(
            f"{message} All sampler actors were shut down; no episode of this batch was used."
        )

    def _lose(self, k: int, doing: str, err: RayError) -> NoReturn:
        """Actor k died (its process or node): replaced by a new one with the same sub-envs and
        tasks; the caller must reset the envs (Sampler.sample samples the phase again)."""
        reason = _death_reason(err)
        self._pending.clear()
        if doing == "starting":
            self.close()
            raise WorkerError(
                f"Sampler actor {k} (sub-envs {self._owned(k)}) died while starting: {reason}. "
                "All sampler actors were shut down."
            )
        with contextlib.suppress(RayError):
            ray.kill(self._actors[k])
        self._actors[k] = self._new_actor(k)
        self._pids[k] = self._started([k])[0]
        self._get([(k, self._call(k, "set_tasks", self._tasks_of(k)))], "setting tasks on")
        raise ActorLost(
            f"Sampler actor {k} (sub-envs {self._owned(k)}) was lost while {doing}: {reason}. "
            "It was replaced by a new actor; the episodes of this phase are discarded."
        )


def _death_reason(err: RayError) -> str:
    """Ray's why, in one line: e.g. 'killed by `ray.kill`', or the worker's exit detail."""
    lines = str(err).splitlines()
    reason = next((line for line in lines if line.startswith("The actor is dead because")), None)
    if reason is None:
        return f"{type(err).__name__}: {lines[0] if lines else ''}".rstrip(": ")
    reason = reason.removeprefix("The actor is dead because ").split(" Some common causes")[0]
    return reason.rstrip(".")
