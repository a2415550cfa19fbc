"""--track: Weights & Biases in offline mode (no network), and the message when wandb is absent."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from metarl import tracking
from metarl.config import Config
from metarl.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def test_missing_wandb_names_the_extra(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "wandb" else real(name, *a)
    )
    cfg = Config()
    cfg.log.track = True
    with pytest.raises(ConfigError, match=r'wandb is not installed.*pip install "metarl\[wandb\]"'):
        tracking.check(cfg)
    cfg.log.track = False
    tracking.check(cfg)  # nothing asked, nothing needed


def test_track_offline_logs_the_run_without_network(tmp_path):
    pytest.importorskip("wandb", reason='the wandb extra: pip install "metarl[wandb]"')
    cmd = [
        sys.executable,
        str(ROOT / "train.py"),
        "--algo",
        "maml",
        "--iterations",
        "2",
        "--device",
        "cpu",
        "--track",
        "--set",
        "sampler.meta_batch_size=2",
        "sampler.episodes_per_task=2",
        "policy.hidden_sizes=[8]",
        "env.horizon=10",
        "eval.num_tasks=2",
        "eval.episodes_per_task=2",
        "eval.steps=1",
        f"log.root={tmp_path}",
    ]
    env = {**__import__("os").environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    assert out.returncode == 0, out.stderr
    (run_dir,) = (tmp_path / "point-goal" / "maml").iterdir()
    (records,) = (run_dir / "wandb").glob("offline-run-*/run-*.wandb")
    data = records.read_bytes()
    assert b"returns/post_adapt" in data and b"returns/held_out_k1" in data
    assert (run_dir / "wandb_id").read_text().strip() in records.name
