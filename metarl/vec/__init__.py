"""Batched env stepping: M sub-envs of a task family stepped together, tensors in and out.

base.py       the BatchedEnv protocol and HostBatchedEnv, the base of the host-stepped envs
local.py      GymnasiumBatchedEnv: the sub-envs in this process
block.py      EnvBlock: a block of sub-envs stepped serially in numpy (every host env's loop)
parallel.py   ParallelBatchedEnv: the blocks in spawned worker processes (worker.py)
ray_env.py    RayBatchedEnv: the blocks in Ray actors (ray_actor.py)

This package's __init__, block.py and worker.py import no torch: worker processes import them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from metarl.vec.base import HostBatchedEnv


def host_batched_env(
    make_env: Callable[[], Any],
    num_envs: int,
    device: torch.device,
    seed: int = 0,
    num_workers: int | None = 0,
    imports: tuple[str, ...] = (),
    groups: list[tuple[int, int]] | None = None,
    backend: str = "local",
    address: str | None = None,
) -> HostBatchedEnv:
    """Gymnasium sub-envs stepped by step `groups`: in this process (num_workers=0), in local
    worker processes (backend 'local'; None: one per CPU) or in Ray actors (backend 'ray', on the
    cluster at `address`, None: a local one; None workers: one per CPU of the cluster). Workers
    import `imports` before building their envs."""
    if backend == "ray":
        from metarl.vec.ray_env import RayBatchedEnv

        return RayBatchedEnv(
            make_env, num_envs, device, seed, num_workers, imports, groups, address
        )
    if num_workers == 0:
        from metarl.vec.local import GymnasiumBatchedEnv

        return GymnasiumBatchedEnv(make_env, num_envs, device, seed, groups)
    from metarl.vec.parallel import ParallelBatchedEnv

    return ParallelBatchedEnv(make_env, num_envs, device, seed, num_workers, imports, groups)
