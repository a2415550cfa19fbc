"""The held-out tasks of an evaluation: which tasks, drawn from which stream, and how a task is
written into the evaluation's file. metarl.evaluate, the periodic evaluation during training,
metarl-render and `metarl-results by-task` all draw them here, so they see the same tasks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from metarl.config import Config
    from metarl.tasks import TaskFamily

# Held-out tasks and their episodes' noise come from SeedSequence(eval.seed, spawn_key=(1,)). A
# training run draws from SeedSequence(seed) with an empty spawn key, so no training seed can
# reproduce this stream (eval.seed == seed included).
_HELD_OUT_SPAWN_KEY = (1,)


def held_out_seeds(eval_seed: int) -> tuple[np.random.Generator, int]:
    """The held-out tasks' generator and the evaluation sampler's seed, for `eval.seed`."""
    sequence = np.random.SeedSequence(eval_seed, spawn_key=_HELD_OUT_SPAWN_KEY)
    task_sequence, noise_sequence = sequence.spawn(2)
    return np.random.default_rng(task_sequence), int(noise_sequence.generate_state(1)[0])


def held_out_tasks(cfg: Config, family: TaskFamily, num_tasks: int) -> tuple[list, int]:
    """The run's fixed held-out tasks and the evaluation sampler's seed."""
    task_rng, noise_seed = held_out_seeds(cfg.eval.seed)
    if cfg.eval.tasks == "paper":
        return family.paper_tasks(num_tasks), noise_seed
    # A legacy sample_tasks(n) reseeds numpy's global generator: keep training's state.
    state = np.random.get_state()
    tasks = family.held_out_tasks(num_tasks, task_rng)
    np.random.set_state(state)
    return tasks, noise_seed


def jsonable_task(task: Any) -> Any:
    """A task as JSON can hold it (numpy scalars and arrays as numbers and lists; anything else
    JSON cannot hold as its repr), for the per-task rows of an evaluation file."""
    if isinstance(task, dict):
        return {str(key): jsonable_task(value) for key, value in task.items()}
    if isinstance(task, (list, tuple)):
        return [jsonable_task(value) for value in task]
    if isinstance(task, np.ndarray | np.generic):
        return task.tolist()
    if task is None or isinstance(task, bool | int | float | str):
        return task
    return repr(task)
