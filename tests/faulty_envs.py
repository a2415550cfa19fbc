"""Task families that fail inside a sampler worker, for tests/test_parallel_sampler.py.

A task with {"fail": "raise"} raises at step FAIL_AT; {"fail": "die"} kills its own process there
(as a segfault in a C extension would); {"fail": "slow"} sleeps in every step (time to interrupt).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time

try:  # as `--env tests.faulty_envs:...` from the repository root, or from tests/ on sys.path
    from tests.broken_families import ValidFamily
except ImportError:
    from broken_families import ValidFamily

FAIL_AT = 3


class FaultyFamily(ValidFamily):
    horizon = 10

    def reset(self, *, seed=None, options=None):
        self.t = 0
        return super().reset(seed=seed, options=options)

    def step(self, action):
        self.t += 1
        fail = self.task.get("fail")
        if fail == "slow":
            time.sleep(0.01)
        elif self.t == FAIL_AT and fail == "raise":
            raise ValueError("simulated failure in step")
        elif self.t == FAIL_AT and fail == "die":
            os.kill(os.getpid(), signal.SIGKILL)
        return super().step(action)


class DyingFamily(FaultyFamily):
    """Task 1 kills its sampler worker at step FAIL_AT (but never the main process, so that the
    env checker, which steps it in-process, passes)."""

    def sample_tasks(self, n, rng):
        tasks = [{**task, "fail": None} for task in super().sample_tasks(n, rng)]
        tasks[1]["fail"] = "die"
        return tasks

    def step(self, action):
        if mp.parent_process() is None and self.task.get("fail") == "die":
            self.task = {**self.task, "fail": None}
        return super().step(action)
