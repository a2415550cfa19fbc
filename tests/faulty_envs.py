"""Task families that fail inside a sampler worker, for tests/test_parallel_sampler.py.

A task with {"fail": "raise"} raises at step FAIL_AT; {"fail": "die"} kills its own process there
(as a segfault in a C extension would); {"fail": "slow"} sleeps in every step (time to interrupt).
"""

from __future__ import annotations

import os
import signal
import time

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
