"""Everything a checkpoint holds to continue a run exactly, and putting it back.

Policy and meta-parameters (Meta-SGD step sizes, the LSTM rule's weights), the outer optimiser's
state, the iteration counter, the env-step total, the config, and every random state the run
draws from: torch's, numpy's and Python's global generators, the task sampler's generator, the
action-noise generator and the batched env's reset counter (a supervised family: the example
sampler's generator). (The linear baseline is refitted on every batch, so it has no state to keep;
TRPO keeps none between iterations.)
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

if TYPE_CHECKING:
    from metarl.trainer import Run


def capture(run: Run, iteration: int, env_steps_total: float) -> dict[str, Any]:
    np_state = list(np.random.get_state())
    np_state[1] = torch.from_numpy(np_state[1].astype(np.int64))  # weights_only has no ndarray
    return {
        "format": 1,
        "iteration": iteration,
        "env_steps_total": env_steps_total,
        "policy": run.policy.state_dict(),
        "algo": run.algo.extra_state(),
        "config": run.cfg.to_dict(),
        "rng": {
            "torch": torch.get_rng_state(),
            "numpy": np_state,
            "python": random.getstate(),
            "tasks": run.task_rng.bit_generator.state,
            "sampler": run.sampler.state_dict(),
        },
    }


def restore(run: Run, state: dict[str, Any]) -> None:
    run.policy.load_state_dict(state["policy"])
    run.algo.load_extra_state(state["algo"])
    rng = state["rng"]
    torch.set_rng_state(rng["torch"])
    kind, keys, pos, has_gauss, cached = rng["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    random.setstate(rng["python"])
    run.task_rng.bit_generator.state = rng["tasks"]
    run.sampler.load_state_dict(rng["sampler"])
