"""SIGINT and SIGTERM in every phase of a run: finish the step or abandon it, keep the newest
checkpoint, say in one line what was saved, exit 128 + the signal (130 for Ctrl-C, 143 for TERM).

What a first signal does depends on the phase the run is in:

    start-up, the final evaluation            ABANDON  stop at once (nothing half-written stays:
                                                        the run's files are written atomically)
    an iteration (sampling, adaptation,        FINISH   finish the iteration and its checkpoint
    update) and its checkpoint                          write, save a checkpoint, stop
    shutting down                              IGNORE   already stopping; the signal is noted

A second signal abandons a step that is being finished. `Abandoned` is a BaseException, like
KeyboardInterrupt, so that library code catching Exception cannot swallow it; the trainer turns it
into `Interrupted` with the line saying what is on disk.
"""

from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from metarl.errors import MetaRLError

ABANDON, FINISH, IGNORE = "abandon", "finish", "ignore"
SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(MetaRLError):
    """A run stopped by SIGINT or SIGTERM; the message says what was saved."""

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.signum = signum


class Abandoned(BaseException):
    """Raised by the signal handler where the current step is given up."""

    def __init__(self, signum: int, phase: str) -> None:
        super().__init__(f"{name(signum)} during {phase}")
        self.signum = signum
        self.phase = phase


class Stop:
    """The process's SIGINT / SIGTERM handler and the phase it is in."""

    def __init__(self) -> None:
        self.signum: int | None = None
        """The first signal received, if any."""
        self.received = 0
        self.phase = "start-up"
        self.mode = ABANDON

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def enter(self, phase: str, mode: str) -> None:
        """The run is now in `phase`; a signal there does what `mode` says."""
        self.phase, self.mode = phase, mode

    def _handle(self, signum: int, frame: object) -> None:
        self.received += 1
        if self.signum is None:
            self.signum = signum
        if self.mode == IGNORE:
            print(f"Received {name(signum)}: already stopping.", file=sys.stderr, flush=True)
            return
        if self.mode == ABANDON or self.received > 1:
            raise Abandoned(signum, self.phase)
        print(
            f"\nReceived {name(signum)}: the run stops once {self.phase} is saved (a second "
            f"signal abandons {self.phase} at once).",
            flush=True,
        )


_current: Stop | None = None


@contextlib.contextmanager
def handling() -> Iterator[Stop]:
    """The process's Stop: installed for the block unless an outer block installed it already
    (train.py installs it before anything else, so that start-up is covered too)."""
    global _current
    if _current is not None:
        yield _current
        return
    stop = Stop()
    # A signal the parent set to be ignored stays ignored, as Python leaves SIGINT: a background
    # job of a non-interactive shell must not stop at the terminal's Ctrl-C.
    previous = {
        signum: signal.signal(signum, stop._handle)
        for signum in SIGNALS
        if signal.getsignal(signum) is not signal.SIG_IGN
    }
    _current = stop
    try:
        yield stop
    finally:
        _current = None
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@dataclass
class OnDisk:
    """What a run has on disk, for the one line an interruption prints."""

    run_dir: Path | None = None
    created: bool = False
    """This process created run_dir (a fresh run, not a resume)."""
    started: bool = False
    """An iteration has begun."""
    checkpoint: Path | None = None
    iteration: int = 0
    """The iteration of `checkpoint`."""
    iterations: int = 0
    """The iteration the run ends at."""

    def newest(self) -> str:
        if self.checkpoint is None:
            return "no checkpoint had been saved yet, so there is nothing to resume"
        return (
            f"the newest checkpoint is '{self.checkpoint}' (iteration {self.iteration}). "
            f"Continue with: python train.py --resume {self.run_dir}"
        )

    def stopped(self, signum: int, evaluation_skipped: bool) -> str:
        """The line for a run that finished its step, saved a checkpoint and stopped."""
        if self.iteration < self.iterations:
            return (
                f"Stopped by {name(signum)} after iteration {self.iteration} of "
                f"{self.iterations}: saved '{self.checkpoint}'. Continue with: "
                f"python train.py --resume {self.run_dir}"
            )
        skipped = (
            "; the final evaluation was skipped (run it with: python -m metarl.evaluate "
            f"{self.run_dir})"
            if evaluation_skipped
            else ""
        )
        return (
            f"Stopped by {name(signum)} in the last iteration: training is complete, saved "
            f"'{self.checkpoint}' (iteration {self.iteration}){skipped}."
        )

    def abandoned(self, err: Abandoned, removed: bool) -> str:
        """The line for a run whose current step was given up."""
        head = f"Stopped by {name(err.signum)} during {err.phase}"
        if err.phase == EVALUATION:
            return (
                f"{head}, which was abandoned: training is complete, saved '{self.checkpoint}' "
                f"(iteration {self.iteration}). Evaluate it with: python -m metarl.evaluate "
                f"{self.run_dir}"
            )
        if not self.started and self.created:
            where = f" (the new run directory '{self.run_dir}' was removed)" if removed else ""
            return f"{head}: nothing was saved{where}."
        if not self.started and self.run_dir is not None:
            return f"{head}: the run is unchanged; {self.newest()}"
        if not self.started:
            return f"{head}: nothing was saved."
        return f"{head}, which was abandoned: {self.newest()}"


EVALUATION = "the final evaluation"


def current() -> Stop | None:
    """The installed Stop, if a `handling()` block is active."""
    return _current


def name(signum: int) -> str:
    return signal.Signals(signum).name


def exit_code(signum: int) -> int:
    """The shell's convention for a process ended by a signal."""
    return 128 + signum
