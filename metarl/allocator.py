"""Keeps the learner's large tensors in the C heap, where freed memory is reused (glibc only).

glibc gives every allocation above its mmap threshold (at most 32 MiB under its dynamic rule) a
fresh mapping and unmaps it on free, so the next tensor of that size is page-faulted in again,
page by page. The learner's activations are that large (cheetah-vel: 40 tasks x 4,000 steps x 100
units in float32 is 64 MB, and a meta-update makes hundreds of them), and on this project's 2-core
machine the page faults took a third of the MAML-TRPO update: 4.2 s -> 2.1 s per update with the
thresholds raised (docs/benchmarks.md). The cost: memory freed by the process is kept for reuse,
so its resident size stays at its peak instead of shrinking between iterations.

Set METARL_MALLOC_TUNING=0 to leave the allocator as it is.
"""

from __future__ import annotations

import ctypes
import os
import sys

# mallopt() parameters, from glibc's <malloc.h>.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
# Allocations up to 1 GiB come from the heap; freed heap tops up to 2 GiB are kept.
_MMAP_THRESHOLD = 1 << 30
_TRIM_THRESHOLD = (1 << 31) - 1

_applied: bool | None = None


def keep_large_allocations() -> bool:
    """Raises glibc's mmap and trim thresholds for this process, once; True if they were set.

    A no-op (False) off Linux, with a C library without mallopt (musl accepts and ignores it), or
    with METARL_MALLOC_TUNING=0. Worker processes do not need it: they allocate nothing large.
    """
    global _applied
    if _applied is None:
        _applied = _apply()
    return _applied


def _apply() -> bool:
    if not sys.platform.startswith("linux") or os.environ.get("METARL_MALLOC_TUNING") == "0":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library this process already uses
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    # mallopt returns 1 on success and 0 when it rejects the value.
    return bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD)
    )
