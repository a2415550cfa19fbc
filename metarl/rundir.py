"""The run directory: runs/<env>/<algo>/<time>-s<seed>/, never reused, and what it records."""

from __future__ import annotations

import platform
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
import yaml

from metarl.config import Config, from_dict
from metarl.errors import ConfigError
from metarl.runlock import require_run


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def make_run_dir(cfg: Config) -> Path:
    """Creates a new run directory; an existing one is never overwritten."""
    base = Path(cfg.log.root) / _slug(cfg.env.name) / cfg.algo
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = base / f"{stamp}-s{cfg.seed}"
    suffix = 1
    while run_dir.exists():
        run_dir = base / f"{stamp}-s{cfg.seed}-{suffix}"
        suffix += 1
    try:
        run_dir.mkdir(parents=True)
    except OSError as err:
        raise ConfigError(
            f"Cannot create the run directory '{run_dir}': {err.strerror}. "
            "Set log.root to a writable directory (e.g. --set log.root=/tmp/runs)."
        ) from err
    return run_dir


def load_config(run_dir: Path) -> Config:
    """The resolved config a run saved, validated again."""
    path = Path(run_dir) / "config.yaml"
    require_run(run_dir)
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"'{path}' is not valid YAML ({err.__class__.__name__}).") from None
    if not isinstance(data, dict):
        raise ConfigError(
            f"'{path}' must hold a mapping of config keys, got {type(data).__name__}: it is not "
            "the config.yaml that train.py writes."
        )
    return from_dict(data)


def _git_revision() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).resolve().parent,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _version(module: str) -> str:
    try:
        return str(__import__(module).__version__)
    except ImportError:
        return "not installed"


def environment_info(seed: int, device: torch.device) -> dict[str, str | int]:
    """What reproduces the run: seed, device, versions, git revision, command."""
    return {
        "seed": seed,
        "device": str(device),
        "python": platform.python_version(),
        "torch": str(torch.__version__),
        "torch_threads": torch.get_num_threads(),  # results are bit-identical per thread count
        "gymnasium": str(gym.__version__),
        "mujoco": _version("mujoco"),
        "numpy": str(np.__version__),
        "git_revision": _git_revision(),
        "command": " ".join(sys.argv),
    }
