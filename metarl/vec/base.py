"""The batched env the sampler steps: M sub-envs, tensors in and out.

`BatchedEnv` is what the sampler needs; a family may ship a native one (point-goal steps in
torch, on the GPU). `HostBatchedEnv` is the base of the envs that step Gymnasium sub-envs on the
host by step groups: in this process (metarl/vec/local.py), in worker processes
(metarl/vec/parallel.py) or in Ray actors (metarl/vec/ray_env.py). The sampler pipelines the
groups of a host env (step_async / step_wait) and steps a native env at once.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import torch

from metarl.vec.block import DONE, OUT_COLUMNS, REWARD, SUCCESS, SpaceInfo

Task = Any
StepResult = tuple[torch.Tensor, ...]
"""What a batched env's step gives: observations [M, obs_dim], rewards [M], done flags [M], and
optionally successes [M] (info["success"] of the step; NaN where the env reports none)."""


class BatchedEnv(Protocol):
    """M sub-envs stepped together; sub-env j runs tasks[j]. Tensors live on `device`."""

    num_envs: int
    obs_dim: int
    act_dim: int
    device: torch.device

    def set_tasks(self, tasks: list[Task]) -> None: ...

    def reset(self) -> torch.Tensor: ...

    def step(self, actions: torch.Tensor) -> StepResult: ...

    def close(self) -> None: ...


class HostBatchedEnv:
    """Gymnasium sub-envs stepped on the host by step groups, in this process, in worker
    processes (metarl/vec/parallel.py) or in Ray actors (metarl/vec/ray_env.py). What all three
    share: the spaces, the groups, the sub-env seeds, and the trip of the packed results to the
    device.

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
        self.groups = groups or [(0, num_envs)]
        self.obs_dim, self.act_dim = spaces.obs_dim, spaces.act_dim
        self._seed = seed
        self.resets = 0
        self._tasks: list[Task] = [None] * num_envs
        # On a GPU, results cross in one transfer per group and step from page-locked memory.
        self._staging = (
            torch.empty((num_envs, self.obs_dim + OUT_COLUMNS), dtype=torch.float32).pin_memory()
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

    def _results(self, out: np.ndarray, a: int, b: int) -> StepResult:
        """Rows a..b-1 of the packed results `out` on the device, in one transfer."""
        if self._staging is None:
            return split_outputs(to_device(out[a:b], self.device))
        staging = self._staging[a:b]
        staging.numpy()[:] = out[a:b]
        # Synchronous on purpose: the staging rows are reused at the group's next step.
        return split_outputs(staging.to(self.device))

    def step_async(self, group: int, actions: torch.Tensor) -> None:
        raise NotImplementedError

    def step_wait(self, group: int) -> StepResult:
        raise NotImplementedError

    def step(self, actions: torch.Tensor) -> StepResult:
        """All groups at once (the Sampler pipelines step_async / step_wait instead)."""
        for g, (a, b) in enumerate(self.groups):
            self.step_async(g, actions[a:b])
        results = [self.step_wait(g) for g in range(len(self.groups))]
        return tuple(torch.cat(parts) for parts in zip(*results))  # type: ignore[return-value]


def to_device(array: np.ndarray, device: torch.device) -> torch.Tensor:
    """A copy of `array` on `device`, in one transfer."""
    return torch.tensor(array, device=device)


def split_outputs(out: torch.Tensor) -> StepResult:
    """A packed [M, obs_dim + OUT_COLUMNS] output -> observations, rewards, done flags, successes
    (info["success"] of the step, NaN where the env reports none)."""
    return out[:, :REWARD].contiguous(), out[:, REWARD], out[:, DONE] > 0.5, out[:, SUCCESS]
