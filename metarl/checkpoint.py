"""Atomic checkpoints: temporary file, fsync, rename, so a crash or a full disk never leaves a
half-written checkpoint under a real name. Loaded with weights_only=True: a checkpoint from an
untrusted source cannot run code."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import torch

from metarl import storage
from metarl.errors import CheckpointError


def save(path: Path, state: dict[str, Any]) -> None:
    # Serialised in memory first: torch.save's zip writer reports a failed write to a file as a
    # RuntimeError without the cause, while a plain write raises OSError with the errno.
    buffer = io.BytesIO()
    torch.save(state, buffer)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with storage.atomic_file(path, "wb") as f:
            f.write(buffer.getbuffer())
    except OSError as err:
        raise _write_error(path, err) from err


def _write_error(path: Path, err: OSError) -> CheckpointError:
    previous = sorted(path.parent.glob("*.pt")) if path.parent.is_dir() else []
    kept = f" The previous checkpoint '{previous[-1]}' is intact." if previous else ""
    return CheckpointError(
        f"Could not write checkpoint '{path}': {err.strerror or err}.{kept} Free disk space or "
        "make the directory writable, then continue with: python train.py --resume RUN_DIR"
    )


def load(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    if not path.is_file():
        raise CheckpointError(f"No checkpoint at '{path}'.")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # truncated files, foreign pickles and tampering all end up here
        first_line = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise CheckpointError(
            f"Checkpoint '{path}' cannot be loaded safely ({first_line}). It may be truncated, "
            "tampered with or not a metarl checkpoint; use another checkpoint of the run (move "
            "this one out of its directory to resume from the one before it)."
        ) from err
    if not isinstance(state, dict) or "iteration" not in state or "policy" not in state:
        raise CheckpointError(f"'{path}' is not a metarl checkpoint (no iteration/policy inside).")
    iteration = state["iteration"]
    if isinstance(iteration, bool) or not isinstance(iteration, int) or iteration < 0:
        raise CheckpointError(
            f"Checkpoint '{path}' is damaged: its iteration should be a count >= 0, found "
            f"{iteration!r} ({type(iteration).__name__}). Use another checkpoint of the run (move "
            "this one out of its directory to resume from the one before it)."
        )
    return state


def iteration_checkpoints(run_dir: Path) -> list[Path]:
    """iter_*.pt of a run, oldest first (temporary files of interrupted writes are ignored)."""
    return sorted((run_dir / "checkpoints").glob("iter_*.pt"))


def latest(run_dir: Path) -> Path:
    """The checkpoint of the highest iteration: final.pt, unless a finished run was extended
    (--iterations) and has saved iteration checkpoints past it."""
    final = run_dir / "checkpoints" / "final.pt"
    candidates = iteration_checkpoints(run_dir)
    if final.is_file() and (not candidates or load(final)["iteration"] >= _number(candidates[-1])):
        return final
    if not candidates:
        raise CheckpointError(
            f"No checkpoint in '{run_dir / 'checkpoints'}'. Expected a metarl run directory "
            "(runs/<env>/<algo>/<time>-s<seed>/) whose training saved at least one checkpoint."
        )
    return candidates[-1]


def _number(path: Path) -> int:
    match = re.fullmatch(r"iter_(\d+)\.pt", path.name)
    return int(match.group(1)) if match else -1


def prune(run_dir: Path, keep: int) -> None:
    """Keeps the newest `keep` iteration checkpoints. Temporary files are left alone: each writer
    removes its own, and those of killed writers go when the next one takes the run's lock."""
    for old in iteration_checkpoints(run_dir)[:-keep]:
        old.unlink(missing_ok=True)
