"""Atomic checkpoints: temporary file, fsync, rename, so a crash or a full disk never leaves a
half-written checkpoint under a real name. Loaded with weights_only=True: a checkpoint from an
untrusted source cannot run code."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from metarl.errors import MetaRLError


class CheckpointError(MetaRLError):
    pass


def save(path: Path, state: dict[str, Any]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        raise _write_error(path, err) from err
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as err:
        Path(tmp).unlink(missing_ok=True)
        raise _write_error(path, err) from err
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
            "tampered with or not a metarl checkpoint; use another checkpoint of the run."
        ) from err
    if not isinstance(state, dict) or "iteration" not in state or "policy" not in state:
        raise CheckpointError(f"'{path}' is not a metarl checkpoint (no iteration/policy inside).")
    return state


def iteration_checkpoints(run_dir: Path) -> list[Path]:
    """iter_*.pt of a run, oldest first (temporary files of interrupted writes are ignored)."""
    return sorted((run_dir / "checkpoints").glob("iter_*.pt"))


def latest(run_dir: Path) -> Path:
    path = run_dir / "checkpoints" / "final.pt"
    if path.is_file():
        return path
    candidates = iteration_checkpoints(run_dir)
    if not candidates:
        raise CheckpointError(
            f"No checkpoint in '{run_dir / 'checkpoints'}'. Expected a metarl run directory "
            "(runs/<env>/<algo>/<time>-s<seed>/) whose training saved at least one checkpoint."
        )
    return candidates[-1]


def prune(run_dir: Path, keep: int) -> None:
    """Keeps the newest `keep` iteration checkpoints and removes leftover temporary files."""
    for old in iteration_checkpoints(run_dir)[:-keep]:
        old.unlink(missing_ok=True)
    for tmp in (run_dir / "checkpoints").glob(".*.tmp"):
        tmp.unlink(missing_ok=True)
