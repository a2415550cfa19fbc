"""The run directory: runs/<env>/<algo>/<time>-s<seed>/, never reused, and what it records."""

from __future__ import annotations

import importlib.metadata
import os
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

SWITCHES = {
    "METARL_CLOSED_FORM": "1",  # 0: autograd for the Gaussian policy's derivatives (rounding)
    "METARL_BLOCK_STEP": "1",  # 0: step MuJoCo sub-envs one by one (bit-equal, slower)
    "METARL_MALLOC_TUNING": "1",  # 0: glibc malloc as it is (speed and memory only)
    "METARL_MEMORY_CHECK": "1",  # 0: no memory check before the run
}
"""The environment variables that change how a run computes, with their defaults."""


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
        revision = out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        revision = ""
    # An installed metarl (site-packages) is no git checkout: its version says what ran.
    return revision or "none (not a git checkout)"


def metarl_version() -> str:
    """The installed distribution's version, else the package's own (a checkout on PYTHONPATH)."""
    try:
        return importlib.metadata.version("metarl")
    except importlib.metadata.PackageNotFoundError:
        from metarl import __version__

        return f"{__version__} (not installed)"


def switches() -> dict[str, str]:
    """Every METARL_* environment variable in effect: the known switches with their values
    (default where unset), and any other METARL_* variable that is set."""
    values = {name: os.environ.get(name, default) for name, default in SWITCHES.items()}
    values.update({k: v for k, v in sorted(os.environ.items()) if k.startswith("METARL_")})
    return values


def _version(module: str) -> str:
    try:
        return str(__import__(module).__version__)
    except ImportError:
        return "not installed"


def environment_info(seed: int, device: torch.device) -> dict[str, object]:
    """What reproduces the run: seed, device, versions, git revision, switches, command."""
    return {
        "metarl": metarl_version(),
        "seed": seed,
        "device": str(device),
        "python": platform.python_version(),
        "torch": str(torch.__version__),
        "torch_threads": torch.get_num_threads(),  # results are bit-identical per thread count
        "gymnasium": str(gym.__version__),
        "mujoco": _version("mujoco"),
        "numpy": str(np.__version__),
        "git_revision": _git_revision(),
        "switches": switches(),
        "command": " ".join(sys.argv),
    }
