"""train.py with a pause injected, for tests that signal or kill a real process.

    python -m tests.fault_cli PHASE AT SIGNALS [train.py arguments]
    python -m tests.fault_cli PHASE AT SIGNALS --evaluate RUN_DIR   (python -m metarl.evaluate)

The run prints "PAUSED in <phase>" when it reaches PHASE (tests/fault_hooks.py) for the AT-th
time and waits there until it has received SIGNALS signals; the test sends them after reading that
line. Everything else is metarl's own command line.
"""

from __future__ import annotations

import sys

from tests.fault_hooks import pause_at, wait_for


def main(argv: list[str]) -> int:
    phase, at, signals, *args = argv
    pause_at(phase, int(at), wait_for(int(signals)), setattr)
    if args[:1] == ["--evaluate"]:
        from metarl.evaluate import main as evaluate

        return evaluate(args[1:])
    from metarl.cli import main as train

    return train(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
