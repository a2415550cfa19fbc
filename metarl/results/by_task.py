"""`metarl-results by-task`: one run's held-out returns grouped by a task parameter.

A mean over the held-out tasks can hide that adaptation works for some tasks and fails for others
(on the direction families: one direction adapts, the other does not). This groups the per-task
returns of a run's evaluation (eval/adaptation.json's per_task_mean_return) by the value of one
task key: by value when the key takes few values (`direction`: -1, +1), else in equal-width bins
(`velocity`). The tasks come from the evaluation file (task_list) or, for files written before it
recorded them, are drawn again from the run's config exactly as the evaluation drew them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from metarl.errors import ResultsError

MAX_DISTINCT = 6
"""A key with at most this many distinct values is grouped by value, else binned."""


def evaluation_file(run_dir: Path, name: str | None) -> Path:
    """The run's evaluation file `name` (under eval/ or the run dir), default the final one."""
    name = name or "adaptation.json"
    for path in (run_dir / "eval" / name, run_dir / name):
        if path.is_file():
            return path
    found = sorted(p.name for p in run_dir.glob("eval/adaptation*.json"))
    raise ResultsError(
        f"'{run_dir}' has no evaluation file {name}. It has: {', '.join(found) or 'none'}; "
        "choose one with --file, or evaluate the run (metarl-evaluate RUN_DIR)."
    )


def task_list(run_dir: Path, adaptation: dict[str, Any]) -> list[dict[str, Any]]:
    """The evaluation's tasks in per-task order: recorded, or drawn again from the config."""
    if "task_list" in adaptation:
        return adaptation["task_list"]
    from metarl.held_out import held_out_tasks, jsonable_task
    from metarl.rundir import load_config
    from metarl.tasks import make_family

    cfg = load_config(run_dir)
    cfg.eval.tasks = adaptation.get("tasks", cfg.eval.tasks)
    cfg.eval.seed = adaptation.get("task_seed", cfg.eval.seed)
    family = make_family(cfg.env.name, cfg.env.horizon, cfg.env.imports)
    tasks, _ = held_out_tasks(cfg, family, int(adaptation["num_tasks"]))
    return [jsonable_task(task) for task in tasks]


def _values(tasks: list[Any], key: str) -> np.ndarray:
    if not tasks or not all(isinstance(t, dict) and key in t for t in tasks):
        keys = sorted(tasks[0]) if tasks and isinstance(tasks[0], dict) else []
        raise ResultsError(
            f"The tasks have no scalar key '{key}' to group by. Their keys: "
            f"{', '.join(keys) or 'none (tasks are not mappings)'}."
        )
    try:
        return np.array([float(t[key]) for t in tasks])
    except (TypeError, ValueError):
        raise ResultsError(
            f"Task key '{key}' is not a number (e.g. {tasks[0][key]!r}): group by a scalar key."
        ) from None


def groups(values: np.ndarray, bins: int) -> list[tuple[str, np.ndarray]]:
    """(label, task mask) per group: each distinct value, or `bins` equal-width bins."""
    distinct = np.unique(values)
    if len(distinct) <= MAX_DISTINCT:
        return [(f"{v:g}", values == v) for v in distinct]
    edges = np.linspace(values.min(), values.max(), bins + 1)
    index = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, bins - 1)
    return [
        (f"[{edges[b]:.3g}, {edges[b + 1]:.3g}{']' if b == bins - 1 else ')'}", index == b)
        for b in range(bins)
        if (index == b).any()
    ]


def by_task_table(run_dir: Path, key: str, bins: int = 4, file: str | None = None) -> str:
    """A markdown table: per group of tasks, the mean held-out return after k steps and the mean
    paired gain after one step with the number of tasks it improves."""
    if bins < 1:
        raise ResultsError(f"--bins must be >= 1, got {bins}.")
    path = evaluation_file(run_dir, file)
    adaptation = json.loads(path.read_text())
    per_task = np.asarray(adaptation["per_task_mean_return"], dtype=float)  # [k, N]
    values = _values(task_list(run_dir, adaptation), key)
    if len(values) != per_task.shape[1]:
        raise ResultsError(
            f"{path} holds {per_task.shape[1]} tasks' returns but {len(values)} tasks."
        )
    steps = range(per_task.shape[0])
    head = f"| {key} | tasks | " + " | ".join(f"k = {k}" for k in steps)
    lines = [
        f"{path} (iteration {adaptation.get('iteration', '?')})",
        "",
        head + " | gain after 1 step (tasks improved) |",
        "|---" * (per_task.shape[0] + 3) + "|",
    ]
    for label, mask in [*groups(values, bins), ("all", np.ones_like(values, dtype=bool))]:
        rows = per_task[:, mask]
        gain = rows[1] - rows[0] if per_task.shape[0] > 1 else np.full(rows.shape[1], np.nan)
        means = " | ".join(f"{m:.2f}" for m in rows.mean(1))
        lines.append(
            f"| {label} | {int(mask.sum())} | {means} | {gain.mean():+.2f} "
            f"({int((gain > 0).sum())}/{int(mask.sum())}) |"
        )
    return "\n".join(lines)
