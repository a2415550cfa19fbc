"""The module layout stays as pyproject.toml's [tool.importlinter] contracts describe it: no import
cycles, the command line over training over building over learners over sampling over envs."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_hold():
    lint_imports = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    if not Path(lint_imports).is_file():
        pytest.skip('lint-imports is not installed (pip install -e ".[dev]")')
    out = subprocess.run(
        [lint_imports, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 broken" in out.stdout


def test_import_metarl_registers_the_builtin_ids_beside_a_users_envs_package(tmp_path):
    (tmp_path / "envs").mkdir()
    (tmp_path / "envs" / "__init__.py").write_text("USER_ENVS = True\n")
    probe = (
        "import metarl, gymnasium, envs; env = gymnasium.make('metarl/PointGoal-v0'); "
        "assert envs.USER_ENVS; print(type(env.unwrapped).__module__)"
    )
    # The user's directory first on the path, as `python` run there puts it.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "metarl.envs.point_goal"
