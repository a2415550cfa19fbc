"""train.py as a user runs it: smoke runs for every algorithm; bad inputs that fail early."""

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from metarl.rundir import SWITCHES, metarl_version

ROOT = Path(__file__).resolve().parent.parent
TINY = [
    "sampler.meta_batch_size=2",
    "sampler.episodes_per_task=2",
    "policy.hidden_sizes=[8]",
    "eval.num_tasks=3",
    "eval.episodes_per_task=2",
    "eval.steps=2",
    "env.horizon=20",
]


def train(*args, root):
    cmd = [sys.executable, str(ROOT / "train.py"), *args, "--set", f"log.root={root}"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=ROOT)


@pytest.mark.parametrize("algo", ["maml", "meta-sgd", "reptile", "meta-lstm"])
def test_smoke_run_writes_a_complete_run_directory(algo, tmp_path):
    out = train(
        "--algo",
        algo,
        "--env",
        "point-goal",
        "--iterations",
        "2",
        "--device",
        "cpu",
        "--set",
        *TINY,
        root=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    assert "[2/2]" in out.stdout and "ETA" in out.stdout
    assert "tensorboard --logdir" in out.stdout
    run_dir = Path(out.stdout.strip().splitlines()[-1].split(" are in ")[-1])
    assert run_dir.parent == tmp_path / "point-goal" / algo
    assert (run_dir / "config.yaml").is_file()
    env_info = yaml.safe_load((run_dir / "environment.yaml").read_text())
    assert {"seed", "torch", "torch_threads", "gymnasium", "mujoco", "git_revision"} <= set(
        env_info
    )
    # metarl's own version and every switch that changes how the run computes.
    assert env_info["metarl"] == metarl_version()
    assert set(SWITCHES) <= set(env_info["switches"])
    # Files a collaborator can read: the usual 0666 & ~umask, not mkstemp's 0600.
    umask = os.umask(0o022)
    os.umask(umask)
    for name in ("config.yaml", "environment.yaml", "checkpoints/final.pt"):
        assert stat.S_IMODE((run_dir / name).stat().st_mode) == 0o666 & ~umask, name
    assert (run_dir / "checkpoints" / "final.pt").is_file()
    assert list(run_dir.glob("events.out.tfevents.*"))
    result = json.loads((run_dir / "eval" / "adaptation.json").read_text())
    assert result["steps"] == [0, 1, 2] and result["num_tasks"] == 3
    assert len(result["mean_return"]) == len(result["ci95"]) == 3
    assert (run_dir / "eval" / "adaptation.png").stat().st_size > 0


def test_sine_trains_and_evaluates_from_the_command_line(tmp_path):
    out = train(
        "--algo",
        "meta-sgd",
        "--env",
        "sine",
        "--iterations",
        "20",
        "--set",
        "eval.num_tasks=10",
        "eval.steps=2",
        root=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    assert "[20/20]" in out.stdout and "K=5:" in out.stdout and "K=20:" in out.stdout
    run_dir = Path(out.stdout.strip().splitlines()[-1].split(" are in ")[-1])
    assert run_dir.parent == tmp_path / "sine" / "meta-sgd"
    result = json.loads((run_dir / "eval" / "adaptation.json").read_text())
    assert result["metric"] == "mse" and set(result["shots"]) == {"5", "10", "20"}
    assert (run_dir / "eval" / "curves.png").stat().st_size > 0


@pytest.mark.parametrize(
    "args, message",
    [
        (["--algo", "mamll"], "invalid choice: 'mamll'"),
        (["--env", "point-goall"], "Unknown env 'point-goall'. Did you mean 'point-goal'?"),
        (["--set", "inner.lrr=0.1"], "Unknown config key 'inner.lrr'. Did you mean 'inner.lr'?"),
        (["--set", "sampler.meta_batch_size=abc"], "expects an integer, got 'abc'"),
        (["--set", "inner.lr=-1"], "must be > 0"),
        (["--iterations", "0"], "'iterations' must be > 0"),
        (["--device", "cuda:7"], "CUDA is not available"),
        (["--device", "tpu"], "Unknown device 'tpu'"),
        (["--config", "nope.yaml"], "does not exist"),
        (["--env", "nosuchpkg.mod:Env"], "Could not import module 'nosuchpkg.mod'"),
    ],
)
def test_bad_input_fails_before_any_rollout(args, message, tmp_path):
    if args[:2] == ["--device", "cuda:7"]:
        import torch

        if torch.cuda.is_available():
            pytest.skip("a GPU is present")
    out = train(*args, root=tmp_path)
    assert out.returncode != 0
    assert message in out.stderr
    assert "Traceback" not in out.stderr
    assert not list(tmp_path.rglob("*.pt")), "a rollout started despite bad input"


@pytest.mark.parametrize(
    "args",
    [
        ["--env", "my_tasks.envs:PushMassEnv"],  # package.module:Class
        ["--import", "my_tasks", "--env", "my_tasks/PushMass-v0"],  # Gymnasium id
        ["--import", "my_tasks", "--env", "my-family"],  # metarl.register
        ["--env", "my-family-ep"],  # entry point
        ["--import", "my_tasks", "--env", "my-legacy"],  # learn2learn-style env, unchanged
    ],
)
def test_a_third_party_family_trains_through_every_way_in(args, tmp_path):
    pytest.importorskip("my_tasks", reason="pip install -e examples/my_tasks (make setup does)")
    out = train(*args, "--iterations", "1", "--set", *TINY, "eval.at_end=false", root=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "[1/1]" in out.stdout
