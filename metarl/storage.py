"""The files of a run: written atomically, and write faults turned into errors that say what to do.

Every file a run writes under its own name (config.yaml, environment.yaml, checkpoints, the
evaluation's JSON and PNG) goes through `atomic_file`: a temporary file in the same directory,
fsync, rename over the real name, fsync of the directory. A crash, a kill -9 or a full disk at
any moment leaves the old file or the new one, never a truncated one. TensorBoard event files are
the exception by design: they are append-only streams of length- and CRC-framed records, and
TensorBoard skips a torn record at the end.

Temporary files are named `.<name>.<random>.tmp`. A writer removes its own on failure; leftovers of
a killed process are removed by the next process that takes the run's lock (`remove_stale`), the
only time it is certain that no other writer owns them.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from metarl.errors import RunDirError

_UMASK = os.umask(0o022)
os.umask(_UMASK)  # read once: mkstemp creates files 0600, a run's files get the usual mode
READ_ONLY = {errno.EACCES, errno.EPERM, errno.EROFS}
FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
TEMPORARY = ".*.tmp"


@contextlib.contextmanager
def atomic_file(path: Path, mode: str = "w") -> Iterator[IO]:
    """Open a temporary file beside `path`; on a clean exit it replaces `path` (fsync, rename)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as f:
            os.fchmod(fd, 0o666 & ~_UMASK)
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:  # a signal that abandons the write included: no temporary file stays
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    """Makes the rename durable: without it a power loss can bring back the old directory entry."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot fsync a directory; the rename itself is still atomic
    finally:
        os.close(fd)


def write_text(path: Path, text: str) -> None:
    with atomic_file(path, "w") as f:
        f.write(text)


def remove_stale(run_dir: Path) -> list[Path]:
    """Removes the temporary files of killed writers; call it only while holding the run's lock."""
    removed = []
    for directory in (run_dir, run_dir / "checkpoints", run_dir / "eval"):
        if directory.is_dir():
            for tmp in directory.glob(TEMPORARY):
                tmp.unlink(missing_ok=True)
                removed.append(tmp)
    return removed


def is_storage_fault(err: BaseException) -> bool:
    """A write refused by the file system: read-only, no permission, full, over a size limit."""
    return isinstance(err, OSError) and err.errno in READ_ONLY | FULL


def fault_error(path: Path, err: OSError, after: str = "") -> RunDirError:
    """A RunDirError naming the file, the fault and the fix; `after` says what is still intact."""
    reason = err.strerror or str(err)
    elsewhere = "(a new run: --set log.root=DIR; an existing run: copy it there)"
    if err.errno in READ_ONLY:
        fix = f"Make the directory writable (chmod -R u+w), or use a writable place {elsewhere}."
    elif err.errno in FULL:
        fix = (
            "Free disk space (or raise the quota or the file-size limit, ulimit -f), or use a "
            f"disk with room {elsewhere}."
        )
    else:
        fix = "Check the file system."
    return RunDirError(f"Cannot write '{path}': {reason}. {fix}{f' {after}' if after else ''}")


def free_bytes(path: Path) -> int:
    """Free space for an unprivileged writer on the file system of `path` (or its nearest
    existing parent)."""
    path = Path(path).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free


def check_writable(directory: Path, needed: int, what: str) -> None:
    """Refuses before anything is written: `directory` read-only, or under `needed` bytes free."""
    probe(directory, what)
    check_free(directory, needed, what)


def probe(directory: Path, what: str) -> None:
    """Writes, fsyncs and removes a small file in `directory`: permission bits do not tell the
    whole story (read-only mounts, ACLs, root, quotas, ulimit -f)."""
    try:
        fd, path = tempfile.mkstemp(dir=directory, prefix=".write-probe.", suffix=".tmp")
        try:
            os.write(fd, b"\0" * 4096)
            os.fsync(fd)
        finally:
            os.close(fd)
            Path(path).unlink(missing_ok=True)
    except OSError as err:
        raise fault_error(directory, err, f"Nothing was written for {what}.") from err


def check_free(directory: Path, needed: int, what: str) -> None:
    """Refuses when the file system has less than `needed` bytes free, before a checkpoint fails."""
    free = free_bytes(directory)
    if free < needed:
        raise RunDirError(
            f"The disk of '{directory}' has {human(free)} free, and {what} needs at least "
            f"{human(needed)} (its checkpoints and logs). Nothing was written. Free disk space, "
            "or write the run elsewhere (a new run: --set log.root=DIR; a run to resume: copy "
            "it to a disk with room)."
        )


def human(n: float) -> str:
    """1536 -> '1.5 KiB'."""
    unit = "B"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            break
        n /= 1024
    return f"{n:.0f} B" if unit == "B" else f"{n:.1f} {unit}"
