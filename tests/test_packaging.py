"""metarl as a pip user meets it: the built wheel, installed into a fresh virtual environment,
trains from a directory that holds its own `envs` package, with the shipped paper configs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
TINY = [
    "sampler.episodes_per_task=1",
    "sampler.num_workers=0",
    "policy.hidden_sizes=[8]",
    "env.horizon=5",
    "eval.at_end=false",
]


def run(cmd: list[str], cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    # No PYTHONPATH: the checkout must not be what the installed commands import.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, f"{' '.join(cmd)}\n{out.stdout}\n{out.stderr}"
    return out


@pytest.mark.slow
def test_the_installed_wheel_trains_from_a_directory_with_its_own_envs_package(tmp_path):
    wheels = tmp_path / "wheels"
    # No build isolation: the build uses this environment's setuptools and needs no network.
    run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(wheels), str(ROOT)],
        cwd=tmp_path,
    )  # fmt: skip
    (wheel,) = wheels.glob("metarl-*.whl")
    # A fresh environment that sees this one's packages (torch, gymnasium, ...) through a .pth
    # line, but not its editable metarl (a .pth file in a .pth-listed directory is not read).
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    site = run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
               cwd=tmp_path).stdout.strip()  # fmt: skip
    Path(site, "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q",
         str(wheel)], cwd=tmp_path)  # fmt: skip
    bin_dir = env_dir / "bin"

    # The user's project: its own `envs` package, which must neither hide metarl's families
    # nor be hidden by them.
    project = tmp_path / "project"
    (project / "envs").mkdir(parents=True)
    (project / "envs" / "__init__.py").write_text("USER_ENVS = True\n")
    probe = (
        "import metarl, gymnasium, envs; gymnasium.make('metarl/PointGoal-v0'); "
        "assert envs.USER_ENVS; print(metarl.__file__)"
    )
    where = run([str(python), "-c", probe], cwd=project).stdout.strip()
    assert Path(where).is_relative_to(env_dir), where

    # The console scripts, each naming itself in its usage line.
    for script in ("metarl-train", "metarl-evaluate", "metarl-check-env"):
        usage = run([str(bin_dir / script), "--help"], cwd=project).stdout
        assert usage.startswith(f"usage: {script} "), usage[:200]
    assert "inner.lr (float, default: 0.1)" in run([str(bin_dir / "metarl-train"), "--help"],
                                                   cwd=project).stdout  # fmt: skip

    # Training takes the shipped paper config: meta-batch 40 and actions scaled by 0.1 on
    # cheetah-vel.
    out = run(
        [str(bin_dir / "metarl-train"), "--algo", "maml", "--env", "cheetah-vel",
         "--iterations", "1", "--device", "cpu", "--set", *TINY, "log.root=runs"],
        cwd=project,
    )  # fmt: skip
    (config_file,) = (project / "runs").rglob("config.yaml")
    config = yaml.safe_load(config_file.read_text())
    assert config["sampler"]["meta_batch_size"] == 40, out.stdout
    assert config["policy"]["action_scale"] == 0.1
    environment = yaml.safe_load((config_file.parent / "environment.yaml").read_text())
    version = re.search(r'^version = "(.+)"', (ROOT / "pyproject.toml").read_text(), re.M)[1]
    assert environment["metarl"] == version
