"""The loop of one sampler worker process: owns an EnvBlock, steps it on command.

Commands come over a pipe; actions and results travel through shared memory (the arrays the
main process allocated), so a step costs two small messages whatever the number of sub-envs.
Imports no torch (metarl/__init__ is lazy): a worker is a light process.
"""

from __future__ import annotations

import contextlib
import importlib
import signal
import traceback
from multiprocessing.connection import Connection
from typing import Any

import cloudpickle
import numpy as np

from metarl.errors import SubEnvError
from metarl.vec.block import EnvBlock


def shared_view(buffer: Any, dtype: type, shape: tuple[int, ...]) -> np.ndarray:
    return np.frombuffer(buffer, dtype=dtype).reshape(shape)


def run(
    conn: Connection,
    make_env_pickled: bytes,
    imports: tuple[str, ...],
    chunks: list[tuple[int, int]],
    buffers: dict[str, Any],
    shapes: dict[str, tuple[int, ...]],
    index: int,
) -> None:
    """Serves commands for this worker's sub-envs: chunks[g] = (first, stop) in step group g."""
    # Ctrl-C and SIGTERM go to the whole process group: the main process decides (it saves a
    # checkpoint after the iteration, or shuts the workers down), so the workers ignore them.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    actions = shared_view(buffers["actions"], np.float32, shapes["actions"])
    out = shared_view(buffers["out"], np.float32, shapes["out"])
    current = shared_view(buffers["current"], np.int64, shapes["current"])[index : index + 1]
    first = chunks[0][0]
    try:
        for module in imports:  # what the main process imported to set the family up
            importlib.import_module(module)
        make_env = cloudpickle.loads(make_env_pickled)
        blocks = {
            g: (EnvBlock(make_env, a, b - a, current), slice(a, b))
            for g, (a, b) in enumerate(chunks)
            if b > a
        }
        conn.send(("ready", None))
        while True:
            command, arg = conn.recv()
            if command == "step":
                block, rows = blocks[arg]
                block.step(actions[rows], out[rows])
            elif command == "reset":
                for block, rows in blocks.values():
                    block.reset(arg, out[rows])
            elif command == "tasks":
                for g, (block, _) in blocks.items():
                    block.set_tasks(arg[g])
            elif command == "close":
                for block, _ in blocks.values():
                    block.close()
                return
            conn.send(("ok", None))
    except (EOFError, BrokenPipeError, ConnectionResetError):
        return  # the main process is gone: nothing to report to
    except Exception as err:
        message = str(err) if isinstance(err, SubEnvError) else _describe(err, first)
        with contextlib.suppress(OSError):
            conn.send(("error", message))


def _describe(err: Exception, first: int) -> str:
    frame = traceback.extract_tb(err.__traceback__)[-1]
    return (
        f"{type(err).__name__}: {err} (at {frame.filename}:{frame.lineno}, in {frame.name}), in "
        f"the worker whose sub-envs start at {first}"
    )
