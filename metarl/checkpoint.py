"""Atomic checkpoints: write to a temporary file, fsync, rename. Loaded with weights_only=True, so a
checkpoint from an untrusted source cannot run code."""

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
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    if not path.is_file():
        raise CheckpointError(
            f"No checkpoint at '{path}'. Did the run save one (log.checkpoint_every)?"
        )
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # truncated files, foreign pickles and tampering all end up here
        raise CheckpointError(
            f"Checkpoint '{path}' cannot be loaded safely: {err}. It may be truncated or not a "
            "metarl checkpoint; use another checkpoint of the run."
        ) from err


def latest(run_dir: Path) -> Path:
    path = run_dir / "checkpoints" / "final.pt"
    if path.is_file():
        return path
    candidates = sorted((run_dir / "checkpoints").glob("iter_*.pt"))
    if not candidates:
        raise CheckpointError(
            f"No checkpoint in '{run_dir / 'checkpoints'}'. Expected a metarl run directory "
            "(runs/<env>/<algo>/<time>-s<seed>/) whose training saved at least one checkpoint."
        )
    return candidates[-1]
