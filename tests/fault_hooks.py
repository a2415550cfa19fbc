"""Fault injection for tests/test_faults.py: run an action at a chosen point of a run.

`pause_at(phase, at, action, patch)` wraps the code of one phase so that `action` runs inside it
the `at`-th time it is reached (for iteration phases: in the `at`-th iteration this process
runs). The action sends signals (in-process tests: to this process, synchronously) or prints a
line and waits for a signal from the test (tests/fault_cli.py). Nothing here sleeps for a fixed
time or races the run: the run is inside the phase when the action runs.

Phases: command-line (start-up: train.py reading its arguments), build (start-up: resolving the
env, building the learner; for a resume after the lock), logger (start-up after the run directory
and config.yaml exist), sampling, adaptation, update (inside an iteration's timed phase),
checkpoint (inside a checkpoint write: its temporary file exists, the rename has not happened),
evaluation (the final evaluation, or evaluate's CLI).
"""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Callable
from typing import Any

from metarl import interrupts

PHASES = (
    "command-line",
    "build",
    "logger",
    "sampling",
    "adaptation",
    "update",
    "checkpoint",
    "evaluation",
)
Patch = Callable[[Any, str, Any], None]
"""setattr-like: pytest's monkeypatch.setattr in tests, plain setattr in a subprocess."""


def pause_at(phase: str, at: int, action: Callable[[], None], patch: Patch) -> None:
    import metarl.cli
    import metarl.evaluate
    import metarl.trainer
    from metarl import storage
    from metarl.algos.base import MetaLearner
    from metarl.timing import Timer

    count = {"n": 0}

    def hit() -> None:
        count["n"] += 1
        if count["n"] == at:
            action()

    def before(owner: Any, name: str) -> None:
        real = getattr(owner, name)

        def wrapped(*args: Any, **kwargs: Any) -> Any:
            hit()
            return real(*args, **kwargs)

        patch(owner, name, wrapped)

    if phase == "command-line":
        before(metarl.cli, "parser")
    elif phase == "build":
        before(metarl.trainer, "build")
    elif phase == "logger":
        before(metarl.trainer, "_open_logger")
    elif phase == "evaluation":
        before(metarl.evaluate, "evaluate_run")
    elif phase in ("sampling", "adaptation", "update"):
        real_iterate, real_timer = MetaLearner.iterate, Timer.__call__
        iteration = {"n": 0, "done": 0}

        def iterate(self: MetaLearner, tasks: list) -> Any:
            iteration["n"] += 1
            return real_iterate(self, tasks)

        @contextlib.contextmanager
        def timer(self: Timer, name: str) -> Any:
            with real_timer(self, name):
                if name == phase and iteration["n"] == at and not iteration["done"]:
                    iteration["done"] = 1
                    action()
                yield

        patch(MetaLearner, "iterate", iterate)
        patch(Timer, "__call__", timer)
    elif phase == "checkpoint":
        real_file = storage.atomic_file

        @contextlib.contextmanager
        def atomic_file(path: Any, mode: str = "w") -> Any:
            with real_file(path, mode) as f:
                yield f
                if str(path).endswith(".pt"):
                    f.flush()  # the checkpoint's bytes are in its temporary file
                    hit()

        patch(storage, "atomic_file", atomic_file)
    else:
        raise ValueError(f"unknown phase {phase!r}; valid: {', '.join(PHASES)}")


def send(*signums: int) -> Callable[[], None]:
    """An action that delivers `signums` to this process, one after the other; each is handled
    (and may raise) before the next is sent, as a second Ctrl-C after the first is."""

    def action() -> None:
        assert interrupts.current() is not None, "metarl's handler must be installed"
        for signum in signums:
            signal.raise_signal(signum)

    return action


def wait_for(signals: int) -> Callable[[], None]:
    """An action that says where the run is and waits until `signals` more signals came."""

    def action() -> None:
        stop = interrupts.current()
        target = stop.received + signals
        print(f"PAUSED in {stop.phase}", flush=True)
        while stop.received < target:  # a signal that abandons the phase raises out of here
            time.sleep(0.01)

    return action
