"""What a run needs, checked before anything is allocated or written: memory for the configured
batch, disk for its checkpoints and logs.

The memory estimate is a model of the learner's peak, fitted to measured runs (peak resident size
above the process's size after its imports; point-goal, MAML / Meta-SGD / Reptile, 40k-160k steps
per batch, hidden sizes [100, 100] and [200, 200], 1-3 inner steps): it is within 25% of each of
those measurements. First-order MAML is taken to behave as Reptile (no graph through the
adaptation). For much smaller networks, whose fixed per-step costs it leaves out, it reads low, so
it refuses only batches that cannot fit. With S = tasks x episodes x horizon steps per batch,
B = inner steps + 1 batches per iteration and H = the sum of the hidden sizes:

    through the adaptation (MAML, Meta-SGD):  S * (H * (10 + 11 B) + 16 (obs + act) B) bytes
    first order (Reptile, FOMAML):            S * (2000 + 4 H + 16 (obs + act) B) bytes

The graph through the adaptation keeps every batch's activations for the second-order
meta-gradient (Finn et al. 2017); a first-order update frees them after each inner step. A
configuration whose estimate exceeds the memory available (the device's free memory on CUDA;
MemAvailable, within the cgroup limit, on Linux CPUs) is refused with the estimate and the keys that
shrink it. METARL_MEMORY_CHECK=0 skips the check.
"""

from __future__ import annotations

import io
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from metarl.config import Config
from metarl.errors import ConfigError
from metarl.storage import human
from metarl.supervised import SupervisedFamily

if TYPE_CHECKING:
    from metarl.run import Run
    from metarl.tasks import TaskFamily

_OUT_OF_MEMORY = getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)  # torch < 2.5
PROCESS_BYTES = 350 * 2**20
"""Resident size of a CPU learner before its first batch (torch, gymnasium, the policy)."""


def batch_bytes(cfg: Config, obs_dim: int, act_dim: int) -> int:
    """The model above: the learner's peak for one meta-iteration, beyond the process itself."""
    s = cfg.sampler.meta_batch_size * cfg.sampler.episodes_per_task * cfg.env.horizon
    b = cfg.inner.steps + 1
    h = sum(cfg.policy.hidden_sizes)
    data = 16 * (obs_dim + act_dim) * b
    if cfg.algo == "reptile" or cfg.inner.first_order:
        return s * (2000 + 4 * h + data)
    return s * (h * (10 + 11 * b) + data)


def available_bytes(device: torch.device) -> int | None:
    """Memory the run may still take: free device memory on CUDA; on Linux, MemAvailable capped by
    the cgroup's limit. None where it cannot be read (no check then)."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    try:
        meminfo = Path("/proc/meminfo").read_text()
    except OSError:
        return None
    fields = dict(line.split(":", 1) for line in meminfo.splitlines() if ":" in line)
    if "MemAvailable" not in fields:
        return None
    available = int(fields["MemAvailable"].split()[0]) * 1024
    limit = _cgroup_room()
    return available if limit is None else min(available, limit)


def _cgroup_room() -> int | None:
    """Limit minus usage of this process's cgroup (v2, else v1); None without a limit."""
    for limit_file, usage_file in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        (
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            "/sys/fs/cgroup/memory/memory.usage_in_bytes",
        ),
    ):
        try:
            limit, usage = Path(limit_file).read_text().strip(), Path(usage_file).read_text()
        except OSError:
            continue
        if limit == "max" or int(limit) >= 2**60:  # v1 says "no limit" with a huge number
            return None
        return max(int(limit) - int(usage), 0)
    return None


def check_memory(cfg: Config, family: TaskFamily | SupervisedFamily, device: torch.device) -> None:
    """Refuses a batch that cannot fit, before its buffers are allocated or a run directory made."""
    if os.environ.get("METARL_MEMORY_CHECK") == "0":
        return
    if isinstance(family, SupervisedFamily):  # a few examples per task
        return
    available = available_bytes(device)
    if available is None:
        return
    env = family.prototype
    obs_dim = int(np.prod(env.observation_space.shape))
    act_dim = int(np.prod(env.action_space.shape)) if env.action_space.shape else 1
    needed = batch_bytes(cfg, obs_dim, act_dim)
    if device.type == "cpu":
        available = max(available - PROCESS_BYTES, 0)
    if needed > available:
        raise ConfigError(memory_message(cfg, needed, available, device))


def memory_message(cfg: Config, needed: int, available: int, device: torch.device) -> str:
    sc = cfg.sampler
    # 80% of what is available: room for the estimate's error and for the rest of the process
    fits = max(math.floor(0.8 * sc.meta_batch_size * available / needed), 0)
    hint = (
        f"--set sampler.meta_batch_size={fits} fits"
        if fits >= 1
        else "even one task does not fit: lower sampler.episodes_per_task or env.horizon"
    )
    return (
        f"The configured batch needs about {human(needed)} of memory for one meta-iteration "
        f"({sc.meta_batch_size} tasks x {sc.episodes_per_task} episodes x {cfg.env.horizon} "
        f"steps, {cfg.inner.steps + 1} batches, hidden sizes {cfg.policy.hidden_sizes}), but "
        f"{human(available)} is available on {device}. Memory grows in proportion to "
        "sampler.meta_batch_size, sampler.episodes_per_task and env.horizon: lower one of them "
        f"({hint}). The estimate is a model of measured runs (docs/faults.md); "
        "METARL_MEMORY_CHECK=0 skips this check."
    )


def out_of_memory(err: BaseException, cfg: Config, device: torch.device) -> ConfigError | None:
    """The allocator's error as one that names the knobs; None for any other error."""
    text = str(err)
    if not (
        isinstance(err, MemoryError | _OUT_OF_MEMORY)
        or (isinstance(err, RuntimeError) and "can't allocate memory" in text)
    ):
        return None
    first = (text.strip().splitlines() or [type(err).__name__])[0]
    return ConfigError(
        f"Out of memory on {device} ({first}). Lower sampler.meta_batch_size, "
        "sampler.episodes_per_task or env.horizon (memory grows in proportion to each)."
    )


def checkpoint_bytes(run: Run) -> int:
    """The size of one checkpoint of `run`, with room for optimiser moments added later."""
    from metarl import run_state

    buffer = io.BytesIO()
    torch.save(run_state.capture(run, 0, 0.0), buffer)
    moments = 2 * sum(p.numel() * p.element_size() for p in run.algo.meta_parameters())
    return buffer.tell() + moments


def disk_needed(cfg: Config, checkpoint_size: int, iterations_left: int) -> int:
    """Disk a run needs from now on: its kept checkpoints, final.pt and the one being written,
    TensorBoard events (about 4 KiB per iteration) and the evaluation's output."""
    checkpoints = (cfg.log.keep_checkpoints + 2) * checkpoint_size
    return checkpoints + 4096 * max(iterations_left, 0) + 2**20
