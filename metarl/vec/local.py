"""The in-process batched env: Gymnasium sub-envs stepped in this process (num_workers 0)."""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
import numpy as np
import torch

from metarl.vec.base import HostBatchedEnv, StepResult, Task
from metarl.vec.block import OUT_COLUMNS, EnvBlock


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
        self._out = np.zeros((num_envs, self.obs_dim + OUT_COLUMNS), dtype=np.float32)

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

    def step_wait(self, group: int) -> StepResult:
        return self._results(self._out, *self.groups[group])

    def close(self) -> None:
        for block in self.blocks:
            block.close()
