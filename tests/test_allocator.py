"""metarl.allocator: large tensors are reused from the heap instead of page-faulted in again."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

glibc = pytest.mark.skipif(
    not sys.platform.startswith("linux") or os.confstr("CS_GNU_LIBC_VERSION") is None,
    reason="glibc only",
)

# A second-order autograd step on 64 MB activations (a learner's update in miniature), repeated;
# prints the minor page faults of the last four repeats, once the heap is in its steady state.
PROBE = """
import json, resource, torch
from metarl import allocator
applied = allocator.keep_large_allocations()
torch.set_num_threads(1)  # one allocation pattern, whatever the machine
x = torch.randn(40, 4000, 100)
w = torch.randn(40, 100, 100, requires_grad=True)
def update():
    y = torch.bmm(x, w)
    z = y * (y > 0)
    (g,) = torch.autograd.grad((z * z).sum(), w, create_graph=True)
    (g * g).sum().backward()
for _ in range(12):
    update()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(4):
    update()
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
again = allocator.keep_large_allocations()
print(json.dumps({"applied": applied, "again": again, "faults": faults}))
"""


def probe(**env: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", PROBE],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@glibc
def test_large_tensors_are_not_page_faulted_in_again() -> None:
    tuned, plain = probe(), probe(METARL_MALLOC_TUNING="0")
    assert tuned["applied"] and tuned["again"]
    assert not plain["applied"]
    # Without the tuning every 64 MB allocation is a fresh mapping, faulted in page by page (~1M
    # faults over the four repeats): the cost the tuning removes, and proof the probe can fail.
    assert plain["faults"] > 150_000, plain
    # With it, freed blocks are reused; the heap may still grow now and then, so allow a margin.
    assert tuned["faults"] < plain["faults"] / 5, (tuned, plain)
