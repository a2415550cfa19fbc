"""The program name in usage lines: the command as the user typed it."""

from __future__ import annotations

import sys
from pathlib import Path


def prog(script: str, module: str) -> str:
    """`script` when called as the console script (metarl-train) or a repository script
    (train.py), as typed; `python -m module` when run as a module."""
    called = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else ""
    if called.startswith("metarl-") or called == "train.py":
        return called
    if called in ("__main__.py", f"{module.rsplit('.', 1)[-1]}.py"):
        return f"python -m {module}"
    return script
