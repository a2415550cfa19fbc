"""The module layout stays as pyproject.toml's [tool.importlinter] contracts describe it: no import
cycles, the command line over training over building over learners over sampling over envs."""

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
