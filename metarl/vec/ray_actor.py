"""The Ray sampler's rollout actor: owns an EnvBlock per step group and steps it on request.

A separate module from metarl/vec/ray_env.py because Ray ships an actor class by reference: the
actor process imports the module the class is defined in, and this one imports no torch (nor ray;
metarl/__init__ is lazy), so that an actor is a light process, like a local sampler worker.
"""

from __future__ import annotations

import importlib
import os
import sys

import cloudpickle
import numpy as np

from metarl.vec.block import OUT_COLUMNS, EnvBlock, Task


class RolloutActor:
    """Sub-envs chunks[g] = (first, stop) of each step group g, stepped with EnvBlock.

    Results come back as float32 rows [observation..., reward, done], as a local worker writes
    them into shared memory.
    """

    def __init__(
        self,
        make_env_pickled: bytes,
        imports: tuple[str, ...],
        chunks: list[tuple[int, int]],
        sys_path: list[str],
    ) -> None:
        # Kept light: what can fail (imports, the env factory) runs in start(), whose exceptions
        # reach the driver as the error itself rather than as an actor-creation failure.
        self._args = (make_env_pickled, imports, chunks, sys_path)
        self.blocks: dict[int, EnvBlock] = {}
        self.outs: dict[int, np.ndarray] = {}

    def start(self) -> int:
        """Builds the sub-envs; returns the process id (tests kill it)."""
        make_env_pickled, imports, chunks, sys_path = self._args
        # The driver's import path, as multiprocessing's spawn passes it to a local worker:
        # appended, so that a remote node's own installation comes first.
        sys.path.extend(p for p in sys_path if p not in sys.path)
        for module in imports:  # what the driver imported to set the family up
            importlib.import_module(module)
        make_env = cloudpickle.loads(make_env_pickled)
        for g, (a, b) in enumerate(chunks):
            if b > a:
                self.blocks[g] = EnvBlock(make_env, a, b - a)
                width = self.blocks[g].spaces.obs_dim + OUT_COLUMNS
                self.outs[g] = np.zeros((b - a, width), dtype=np.float32)
        return os.getpid()

    def set_tasks(self, tasks: list[list[Task]]) -> None:
        """tasks[g]: the tasks of this actor's sub-envs in step group g."""
        for g, block in self.blocks.items():
            block.set_tasks(tasks[g])

    def reset(self, seed: int) -> dict[int, np.ndarray]:
        for g, block in self.blocks.items():
            block.reset(seed, self.outs[g])
        return self.outs

    def step(self, group: int, actions: np.ndarray) -> np.ndarray:
        # Ray serialises the returned array before it runs this actor's next call, so the
        # buffer can be reused.
        self.blocks[group].step(actions, self.outs[group])
        return self.outs[group]

    def close(self) -> None:
        for block in self.blocks.values():
            block.close()
