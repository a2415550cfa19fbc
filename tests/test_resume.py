"""Runs that survive: resume equals an uninterrupted run, signals save, disks fill up."""

import contextlib
import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from metarl import checkpoint, storage
from metarl.algos.base import MetaLearner
from metarl.cli import CONFIGS_DIR
from metarl.config import build_config
from metarl.errors import CheckpointError, ConfigError
from metarl.trainer import load_for_resume, train

ROOT = Path(__file__).resolve().parent.parent
TINY = [
    "sampler.meta_batch_size=2",
    "sampler.episodes_per_task=3",
    "policy.hidden_sizes=[8]",
    "env.horizon=15",
    "eval.at_end=false",
]
TIMING = ("time/", "throughput/env_steps_per_s")


def config(tmp_path, *extra, algo="meta-sgd"):
    return build_config(
        algo, "point-goal", None, [*TINY, f"log.root={tmp_path}", *extra], CONFIGS_DIR
    )


def scalars(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    acc = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    acc.Reload()
    return {
        tag: [(e.step, e.value) for e in acc.Scalars(tag)]
        for tag in acc.Tags()["scalars"]
        if not tag.startswith(TIMING)
    }


def test_same_seed_gives_identical_scalars(tmp_path):
    a = train(config(tmp_path / "a", "iterations=3"))
    b = train(config(tmp_path / "b", "iterations=3"))
    sa, sb = scalars(a), scalars(b)
    assert sa == sb and "returns/post_adapt" in sa


def test_killed_run_resumes_exactly_with_no_gap_or_duplicate(tmp_path, monkeypatch):
    reference = scalars(train(config(tmp_path / "ref", "iterations=6", "log.checkpoint_every=2")))
    original = MetaLearner.iterate
    calls = {"n": 0}

    def dies_in_iteration_6(self, tasks):
        calls["n"] += 1
        if calls["n"] == 6:  # iteration 5 is logged but not checkpointed: it must be purged
            raise RuntimeError("simulated kill -9")
        return original(self, tasks)

    monkeypatch.setattr(MetaLearner, "iterate", dies_in_iteration_6)
    with pytest.raises(RuntimeError, match="simulated"):
        train(config(tmp_path / "run", "iterations=6", "log.checkpoint_every=2"))
    monkeypatch.setattr(MetaLearner, "iterate", original)
    (run_dir,) = list((tmp_path / "run" / "point-goal" / "meta-sgd").iterdir())
    cfg, state = load_for_resume(run_dir, None, None)
    assert state["iteration"] == 4
    train(cfg, run_dir, state)
    resumed = scalars(run_dir)
    for tag, values in reference.items():
        assert [s for s, _ in resumed[tag]] == list(range(1, 7)), tag  # no gap, no duplicate
        assert resumed[tag] == values, tag  # bit-for-bit on CPU


def test_keeps_the_newest_checkpoints_only(tmp_path):
    run_dir = train(
        config(
            tmp_path,
            "iterations=5",
            "log.checkpoint_every=1",
            "log.keep_checkpoints=2",
            algo="maml",
        )
    )
    names = sorted(p.name for p in (run_dir / "checkpoints").iterdir())
    assert names == ["final.pt", "iter_000003.pt", "iter_000004.pt"]


def test_resuming_a_finished_run_asks_for_more_iterations(tmp_path):
    run_dir = train(config(tmp_path, "iterations=2", algo="reptile"))
    with pytest.raises(ConfigError, match=r"already finished 2 of 2 iterations.*--iterations N"):
        load_for_resume(run_dir, None, None)
    cfg, state = load_for_resume(run_dir, 3, None)
    train(cfg, run_dir, state)
    assert checkpoint.load(run_dir / "checkpoints" / "final.pt")["iteration"] == 3


def test_full_disk_gives_a_clear_error_and_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    real_file = storage.atomic_file
    calls = {"n": 0}

    @contextlib.contextmanager
    def atomic_file(path, mode="w"):
        with real_file(path, mode) as f:  # the temporary file exists when the disk fills up
            calls["n"] += path.suffix == ".pt"
            if calls["n"] == 2:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            yield f

    monkeypatch.setattr(storage, "atomic_file", atomic_file)
    with pytest.raises(
        CheckpointError,
        match=r"No space left on device\. The previous checkpoint .*iter_000001",
    ):
        train(config(tmp_path, "iterations=3", "log.checkpoint_every=1", algo="maml"))
    (run_dir,) = list((tmp_path / "point-goal" / "maml").iterdir())
    assert checkpoint.load(run_dir / "checkpoints" / "iter_000001.pt")["iteration"] == 1
    assert not list((run_dir / "checkpoints").glob(".*.tmp"))


def test_nan_gradient_is_named_and_the_last_checkpoint_loads(tmp_path, monkeypatch):
    import metarl.algos.trpo as trpo
    from metarl.errors import NumericalError

    real_step, real_grad = trpo.TRPO.step, trpo.flat_grad
    state = {"step": 0, "poison": False}

    def step(self, evaluate, fisher=None):
        state["step"] += 1
        state["poison"] = state["step"] == 2  # the loss gradient of iteration 2
        return real_step(self, evaluate, fisher)

    def flat_grad(*args, **kwargs):
        g = real_grad(*args, **kwargs)
        if state["poison"]:
            state["poison"] = False
            return g * float("nan")
        return g

    monkeypatch.setattr(trpo.TRPO, "step", step)
    monkeypatch.setattr(trpo, "flat_grad", flat_grad)
    with pytest.raises(
        NumericalError, match=r"NaN or inf at iteration 2, first in the meta-gradient\."
    ):
        train(config(tmp_path, "iterations=3", "log.checkpoint_every=1", algo="maml"))
    (run_dir,) = list((tmp_path / "point-goal" / "maml").iterdir())
    state = checkpoint.load(run_dir / "checkpoints" / "iter_000001.pt")
    assert all(torch.isfinite(v).all() for v in state["policy"].values())


def test_nan_advantages_are_named_as_the_source(tmp_path, monkeypatch):
    import metarl.adapt as adapt_module
    from metarl.errors import NumericalError

    real = adapt_module.estimate_advantages
    calls = {"n": 0}

    def poisoned(episodes, *args):
        calls["n"] += 1
        out = real(episodes, *args)
        if calls["n"] > 4:  # reptile here: 2 inner steps + D_test = 3 batches per iteration
            out.advantages = out.advantages * float("nan")
        return out

    monkeypatch.setattr(adapt_module, "estimate_advantages", poisoned)
    with pytest.raises(
        NumericalError,
        match=r"at iteration 2, first in the advantages of D_train \(inner step 2\)\. It then",
    ):
        train(
            config(
                tmp_path, "iterations=3", "log.checkpoint_every=1", "inner.steps=2", algo="reptile"
            )
        )
    (run_dir,) = list((tmp_path / "point-goal" / "reptile").iterdir())
    assert checkpoint.load(run_dir / "checkpoints" / "iter_000001.pt")["iteration"] == 1


def test_meta_sgd_step_sizes_can_be_clamped(tmp_path):
    run_dir = train(config(tmp_path, "iterations=2", "inner.step_size_clamp=[0.09, 0.1]"))
    state = checkpoint.load(run_dir / "checkpoints" / "final.pt")
    for alpha in state["algo"]["step_sizes"].values():
        assert alpha.min() >= 0.09 and alpha.max() <= 0.1


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_saves_a_checkpoint_and_resume_finishes(signum, tmp_path):
    cmd = [
        sys.executable,
        str(ROOT / "train.py"),
        "--algo",
        "maml",
        "--iterations",
        "1000",
        "--set",
        *TINY,
        f"log.root={tmp_path}",
        "log.checkpoint_every=1000",
    ]
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # metarl leaves an ignored signal ignored, and pytest may run as a shell's background job
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.time() + 120
    for line in proc.stdout:
        if line.startswith("[") and "/1000]" in line:
            break
        assert time.time() < deadline
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, err
    assert "Continue with: python train.py --resume" in err
    (run_dir,) = list((tmp_path / "point-goal" / "maml").iterdir())
    (saved,) = list((run_dir / "checkpoints").glob("iter_*.pt"))
    done = checkpoint.load(saved)["iteration"]
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "train.py"),
            "--resume",
            str(run_dir),
            "--iterations",
            str(done + 2),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert f"resuming at iteration {done + 1}..{done + 2}" in out.stdout
    assert checkpoint.load(run_dir / "checkpoints" / "final.pt")["iteration"] == done + 2
