"""Batched env whose sub-envs step in worker processes.

The sub-envs are split into step groups (the sampler uses two: the first and second half of the
tasks) and each group into one contiguous chunk per worker. A worker holds an EnvBlock per chunk
(the code the in-process env runs) and writes its results into one shared float32 array; the
policy stays in the main process, on its device. While the workers step one group, the main
process computes the actions of the other, so the workers never wait for the policy.

Sub-env j is reset with seed `seed + resets * M + j` whatever the split, so the episodes equal
those of the in-process env bit for bit (tests/test_parallel_sampler.py).

Why not gymnasium.vector.AsyncVectorEnv: it runs one process per sub-env and a meta-iteration
has hundreds of them (40 tasks x 20 episodes); chunks of sub-envs per process cost two small
messages per worker and step, whatever the chunk size (docs/benchmarks.md compares the two).
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import multiprocessing.util as mp_util
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from multiprocessing.connection import Connection, wait
from typing import Any

import cloudpickle
import gymnasium as gym
import numpy as np
import torch

from metarl.errors import WorkerError
from metarl.vec import worker
from metarl.vec.base import HostBatchedEnv, StepResult
from metarl.vec.block import OUT_COLUMNS, SpaceInfo, Task


def default_num_workers() -> int:
    """One worker per CPU this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def split_chunks(groups: list[tuple[int, int]], workers: int) -> list[list[tuple[int, int]]]:
    """chunks[k][g] = (first, stop): worker k's contiguous share of step group g."""
    chunks: list[list[tuple[int, int]]] = [[] for _ in range(workers)]
    for a, b in groups:
        bounds = np.linspace(a, b, workers + 1).round().astype(int)
        for k in range(workers):
            chunks[k].append((int(bounds[k]), int(bounds[k + 1])))
    return chunks


class ChunkedBatchedEnv(HostBatchedEnv):
    """What the worker-process env and the Ray env add: the spaces from one probe env (the
    sub-envs live elsewhere), and each worker's contiguous chunk of every step group.

    Subclasses start their workers and implement the transport.
    """

    def __init__(
        self,
        make_env: Callable[[], gym.Env],
        num_envs: int,
        device: torch.device,
        seed: int,
        groups: list[tuple[int, int]] | None,
    ) -> None:
        probe = make_env()
        spaces = SpaceInfo(probe)
        probe.close()
        super().__init__(spaces, num_envs, device, seed, groups)
        self._closed = False

    def _split(self, workers: int | None) -> int:
        """Chunks for `workers` workers (at most the smallest group's size); their number."""
        workers = min(workers or 1, min(b - a for a, b in self.groups))
        self.chunks = split_chunks(self.groups, workers)
        # Workers with sub-envs in group g (all of them unless a group is smaller than that).
        self._members = [
            [k for k in range(workers) if self.chunks[k][g][1] > self.chunks[k][g][0]]
            for g in range(len(self.groups))
        ]
        return workers

    def _tasks_of(self, k: int) -> list[list[Task]]:
        """Worker k's tasks, one list per step group."""
        return [self._tasks[a:b] for a, b in self.chunks[k]]


class ParallelBatchedEnv(ChunkedBatchedEnv):
    """M sub-envs stepped by `num_workers` worker processes, group by group."""

    def __init__(
        self,
        make_env: Callable[[], gym.Env],
        num_envs: int,
        device: torch.device,
        seed: int = 0,
        num_workers: int | None = None,
        imports: tuple[str, ...] = (),
        groups: list[tuple[int, int]] | None = None,
    ) -> None:
        super().__init__(make_env, num_envs, device, seed, groups)
        workers = self._split(num_workers or default_num_workers())

        ctx = mp.get_context("spawn")  # fork is unsafe once torch has started its threads
        shapes = {
            "actions": (num_envs, self.act_dim),
            "out": (num_envs, self.obs_dim + OUT_COLUMNS),
            "current": (workers,),
        }
        ctypes = {"actions": "f", "out": "f", "current": "q"}
        buffers = {k: ctx.RawArray(ctypes[k], int(np.prod(s))) for k, s in shapes.items()}
        self._actions = worker.shared_view(buffers["actions"], np.float32, shapes["actions"])
        self._out = worker.shared_view(buffers["out"], np.float32, shapes["out"])
        self._current = worker.shared_view(buffers["current"], np.int64, shapes["current"])
        self._current[:] = -1
        pickled = cloudpickle.dumps(make_env)
        self._conns: list[Connection] = []
        self._procs: list[mp.process.BaseProcess] = []
        with _signals_ignored(), _main_module_hidden():
            for k in range(workers):
                parent, child = ctx.Pipe()
                proc = ctx.Process(
                    target=worker.run,
                    args=(child, pickled, imports, self.chunks[k], buffers, shapes, k),
                    name=f"metarl-sampler-{k}",
                    daemon=True,
                )
                proc.start()
                child.close()
                self._conns.append(parent)
                self._procs.append(proc)
        # Shut the workers down even if close() is never called (garbage collection, exit). A
        # multiprocessing Finalize with an exit priority runs at exit before multiprocessing
        # joins its children (which would wait forever on workers blocked on a command).
        self._finalizer = mp_util.Finalize(
            self, _shutdown, args=(self._procs, self._conns), exitpriority=10
        )
        self._collect(range(workers), "starting")

    @property
    def num_workers(self) -> int:
        return len(self._procs)

    def set_tasks(self, tasks: list[Task]) -> None:
        self._remember_tasks(tasks)
        for k, conn in enumerate(self._conns):
            self._send(conn, ("tasks", self._tasks_of(k)))
        self._collect(range(self.num_workers), "setting tasks on")

    def reset(self) -> torch.Tensor:
        seed = self._next_seed()
        for conn in self._conns:
            self._send(conn, ("reset", seed))
        self._collect(range(self.num_workers), "resetting")
        return self._results(self._out, 0, self.num_envs)[0]

    def step_async(self, group: int, actions: torch.Tensor) -> None:
        """Starts stepping group `group` (sub-envs a..b-1) with `actions` [b - a, act_dim]."""
        a, b = self.groups[group]
        self._actions[a:b] = actions.detach().cpu().numpy()  # one device-to-host copy
        for k in self._members[group]:
            self._send(self._conns[k], ("step", group))

    def step_wait(self, group: int) -> StepResult:
        """Waits for the step of `group` started last; its observations, rewards, done flags
        and successes."""
        self._collect(self._members[group], "stepping")
        return self._results(self._out, *self.groups[group])

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._finalizer()

    def _send(self, conn: Connection, message: tuple) -> None:
        if self._closed:
            raise WorkerError("The sampler's workers were shut down; build a new sampler.")
        try:
            conn.send(message)
        except (BrokenPipeError, ConnectionResetError, EOFError):
            self._fail(self._conns.index(conn), "sending a command to", None)

    def _collect(self, workers: Iterable[int], doing: str) -> None:
        """Waits for one reply from each of `workers`; an error or a death ends it all.

        Replies come in command order, so the next reply of a worker answers its oldest
        command still open.
        """
        pending = {self._conns[k]: k for k in workers}
        sentinels = {self._procs[k].sentinel: k for k in pending.values()}
        while pending:
            open_ = set(pending.values())
            ready = wait([*pending, *(s for s, k in sentinels.items() if k in open_)])
            for item in ready:
                if item in pending:  # a reply (checked before deaths: an error, then exit)
                    k = pending.pop(item)
                    try:
                        status, payload = item.recv()
                    except (EOFError, ConnectionResetError):
                        self._fail(k, doing, None)
                    if status == "error":
                        self._fail(k, doing, payload)
                elif sentinels.get(item) in pending.values():  # died before replying
                    self._fail(sentinels[item], doing, None)

    def _fail(self, k: int, doing: str, error: str | None) -> None:
        proc = self._procs[k]
        owned = ", ".join(f"{a}..{b - 1}" for a, b in self.chunks[k] if b > a)
        if error is None:
            proc.join(timeout=1.0)
            j = int(self._current[k])
            # The sub-env it was in (set, reset or stepped), from shared memory.
            where = "outside any one sub-env"
            if j >= 0:
                where = f"in sub-env {j} (task {self._tasks[j]!r})"
            message = (
                f"Sampler worker {k} (sub-envs {owned}) died {where}: "
                f"{_exit_reason(proc.exitcode)}. Likely causes: the env crashed the process (a "
                "segfault in a C extension), memory ran out (the kernel's OOM killer sends "
                "SIGKILL), or it was killed from outside."
            )
        else:
            message = f"Sampler worker {k} failed while {doing} its sub-envs: {error.rstrip('.')}."
            if doing == "starting":
                message += (
                    " A worker is a fresh process: it imports what env.imports (--import) names "
                    "and unpickles the env factory. If the env needs setup done only in your "
                    "script, move it into an importable module and pass --import MODULE, or "
                    "step the envs in the main process with --set sampler.num_workers=0."
                )
        self.close()
        raise WorkerError(
            f"{message} All sampler workers were shut down; no episode of this batch was used."
        )


def _exit_reason(code: int | None) -> str:
    if code is None:
        return "it stopped answering"
    if code < 0:
        return f"killed by {signal.Signals(-code).name}"
    return f"exit code {code}"


def _shutdown(procs: list[mp.process.BaseProcess], conns: list[Connection]) -> None:
    """Asks each worker to close its envs, then makes sure that none is left running."""
    for conn in conns:
        with contextlib.suppress(OSError):
            conn.send(("close", None))
    for proc in procs:
        proc.join(timeout=2.0)
        if proc.is_alive():
            proc.kill()  # workers ignore SIGTERM
            proc.join(timeout=2.0)
    for conn in conns:
        conn.close()


@contextlib.contextmanager
def _main_module_hidden() -> Iterator[None]:
    """Starts workers without re-running the user's main script in them.

    spawn normally imports `__main__` in each child, which runs an unguarded script again
    (a RuntimeError about the bootstrapping phase) and imports torch for nothing. The workers need
    only the pickled env factory (cloudpickle carries classes defined in `__main__` by value).
    """
    main = sys.modules["__main__"]
    saved = {
        name: main.__dict__[name] for name in ("__file__", "__spec__") if name in main.__dict__
    }
    main.__spec__ = None
    main.__dict__.pop("__file__", None)
    try:
        yield
    finally:
        main.__dict__.update(saved)
        if "__spec__" not in saved:
            del main.__spec__


class _signals_ignored:
    """Ignores SIGINT/SIGTERM while workers start: they are born ignoring them, and the main
    process decides (checkpoint after the iteration, or shut down)."""

    def __enter__(self) -> None:
        self._previous: dict[int, Any] = {}
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, signal.SIG_IGN)

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
