"""One writer per run directory: an advisory lock on RUN_DIR/.lock.

Training, `--resume` and evaluation take the lock before they write anything into a run. Two
writers would otherwise interleave checkpoints (one's pruning deleting the other's files) and
TensorBoard event files (a resumed writer's purge step hiding the other's later steps).

The lock is `flock(LOCK_EX | LOCK_NB)` on the open lock file: the kernel releases it when the
process dies however it dies, so a killed run never leaves a stale lock, and a second process is
refused at once rather than queued. The file is never removed or replaced (a process that opened
the old file would lock a different inode than the next one); its content, written by the holder
only, says who holds it (PID, host, what, since when, command) for the refusal message. The lock is
reentrant within a process: the final evaluation of a training run writes under the training's
lock. flock works across NFS clients on Linux (as a POSIX lock on the server).
"""

from __future__ import annotations

import fcntl
import functools
import json
import os
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import ParamSpec, TypeVar

from metarl import storage
from metarl.errors import ConfigError, RunDirError

LOCK_NAME = ".lock"

_held: dict[str, RunLock] = {}  # real path of the run directory -> the lock this process holds


class RunLock:
    """`with RunLock(run_dir, "training"):` makes this the one writer of `run_dir`, or raises."""

    def __init__(self, run_dir: Path, purpose: str, new: bool = False) -> None:
        self.run_dir = Path(run_dir)
        self.purpose = purpose
        self.new = new
        """A run directory just made (no config.yaml yet); else it must be a run's."""
        self._key = os.path.realpath(self.run_dir)
        self._fd: int | None = None
        self._outer: RunLock | None = None

    def __enter__(self) -> RunLock:
        self._outer = _held.get(self._key)
        if self._outer is not None:  # this process holds it already
            return self._outer
        if not self.new:
            require_run(self.run_dir)  # no lock file is left in a directory that is not a run
        path = self.run_dir / LOCK_NAME
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as err:
            raise storage.fault_error(path, err, "Nothing of the run was changed.") from err
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise RunDirError(_busy_message(self.run_dir, holder)) from None
        except OSError as err:  # ENOLCK: a network file system without lock support
            os.close(fd)
            raise RunDirError(
                f"Cannot lock the run directory '{self.run_dir}': {err.strerror}. Its file system "
                "does not support locks; write runs to a local disk (--set log.root=DIR)."
            ) from err
        self._fd = fd
        _held[self._key] = self
        self._record_holder()
        return self

    def _record_holder(self) -> None:
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "purpose": self.purpose,
            "since": time.strftime("%Y-%m-%d %H:%M:%S"),
            "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv else "",
        }
        try:
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, (json.dumps(info) + "\n").encode(), 0)
        except OSError:
            # The lock itself is held; only the description for a refused writer is missing. A
            # full or read-only directory is reported by the checks that follow the lock.
            pass

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._outer is not None or self._fd is None:
            return  # the outer holder releases it
        _held.pop(self._key, None)
        try:
            os.ftruncate(self._fd, 0)  # nobody holds it now: a reader should not name this process
        except OSError:
            pass  # the file was removed with its directory, or the disk is read-only now
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


P = ParamSpec("P")
R = TypeVar("R")


def writes_run(purpose: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorates a function whose first argument is a run directory it writes into: it runs as
    the run's one writer, after a probe write (a read-only run fails before the work, not after)."""

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def locked(*args: P.args, **kwargs: P.kwargs) -> R:
            run_dir = Path(args[0] if args else kwargs["run_dir"])
            with RunLock(run_dir, purpose):
                storage.probe(run_dir, f"the {purpose} of '{run_dir}'")
                return fn(*args, **kwargs)

        return locked

    return decorate


def require_run(run_dir: Path) -> None:
    """Raises ConfigError unless `run_dir` is a run directory (it holds config.yaml)."""
    if not Path(run_dir).is_dir():
        raise ConfigError(f"Run directory '{run_dir}' does not exist.")
    if not (Path(run_dir) / "config.yaml").is_file():
        raise ConfigError(
            f"'{run_dir}' is not a metarl run directory: it has no config.yaml. Pass the "
            "directory that train.py printed (runs/<env>/<algo>/<time>-s<seed>)."
        )


def _read_holder(fd: int) -> dict:
    try:
        data = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _busy_message(run_dir: Path, holder: dict) -> str:
    pid, host = holder.get("pid"), holder.get("host")
    if pid is None:
        who = "another process holds its lock (it has not recorded which yet)"
        stop = "Wait for it to finish"
    else:
        here = host == socket.gethostname()
        who = (
            f"PID {pid} on {'this machine' if here else f'host {host}'} holds its lock "
            f"({holder.get('purpose', 'writing')} since {holder.get('since', '?')}: "
            f"{holder.get('command', '?')})"
        )
        stop = (
            f"Wait for it to finish, or stop it with kill -TERM {pid}"
            + ("" if here else f" on {host}")
            + " (it saves a checkpoint first)"
        )
    return (
        f"Run directory '{run_dir}' is in use: {who}. Only one process may write into a run; a "
        "second would overwrite its checkpoints and TensorBoard history. Nothing was changed. "
        f"{stop}, then run this again."
    )
