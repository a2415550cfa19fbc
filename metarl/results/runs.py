"""Finding runs and reading what they recorded.

A run is a directory with the config.yaml that train.py saves. It is read from whichever of these
it has: eval/adaptation.json (or adaptation.json), the final held-out evaluation, or for a run
stopped before its end the latest eval/adaptation_iterN.json (`metarl-evaluate --checkpoint`),
its iteration saying which (on another task set than the run's eval.tasks, the same names with
`_paper-tasks` or `_sampled-tasks`, as `metarl-evaluate --tasks` writes them); progress.csv, the
per-iteration scalars (or, for runs that predate it, TensorBoard's event files). The same layout
holds for a run directory and for its small files exported with `metarl-results export`.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from metarl.errors import ResultsError
from metarl.progress import FILENAME as PROGRESS
from metarl.progress import read_rows


@dataclass
class RunRecord:
    path: Path
    config: dict[str, Any]
    """Flat `section.key` config."""
    adaptation: dict[str, Any] | None
    progress: dict[str, np.ndarray] = field(default_factory=dict)
    """Column name -> values per row; 'iteration' holds the meta-iteration (NaN: not logged)."""
    environment: dict[str, Any] = field(default_factory=dict)

    @property
    def family(self) -> str:
        return str(self.config.get("env.name", "?"))

    @property
    def algo(self) -> str:
        return str(self.config.get("algo", "?"))

    @property
    def seed(self) -> int:
        return int(self.config.get("seed", 0))

    def series(self, tag: str) -> tuple[np.ndarray, np.ndarray]:
        """(iterations, values) where `tag` was logged."""
        if tag not in self.progress:
            return np.empty(0, dtype=int), np.empty(0)
        values = self.progress[tag]
        keep = np.isfinite(values)
        return self.progress["iteration"][keep].astype(int), values[keep]

    def seconds_per_iteration(self) -> float:
        """The median of time/iteration: robust to the first iterations' warm-up."""
        _, values = self.series("time/iteration")
        return float(np.median(values)) if len(values) else math.nan


def flatten(node: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in node.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[prefix + key] = value
    return flat


def find_runs(paths: list[Path]) -> list[Path]:
    """Run directories given directly or found below the given roots, in sorted order."""
    found: list[Path] = []
    for path in paths:
        if not path.exists():
            raise ResultsError(f"'{path}' does not exist. Pass run directories or a root of them.")
        if (path / "config.yaml").is_file():
            found.append(path)
            continue
        below = sorted(p.parent for p in path.rglob("config.yaml") if "wandb" not in p.parts)
        if not below:
            raise ResultsError(
                f"No metarl runs under '{path}': expected directories holding the config.yaml "
                "that train.py writes (runs/<env>/<algo>/<time>-s<seed>), or result folders "
                "made by `metarl-results export`."
            )
        found.extend(below)
    return sorted(dict.fromkeys(found))


def load_run(path: Path, tasks: str = "sampled") -> RunRecord:
    """The run at `path`, with its evaluation on the task set `tasks` ('sampled' or 'paper')."""
    try:
        config = yaml.safe_load((path / "config.yaml").read_text())
    except yaml.YAMLError as err:
        raise ResultsError(f"'{path / 'config.yaml'}' is not valid YAML: {err}") from None
    if not isinstance(config, dict):
        raise ResultsError(f"'{path / 'config.yaml'}' does not hold a metarl config mapping.")
    env_file = path / "environment.yaml"
    environment = yaml.safe_load(env_file.read_text()) if env_file.is_file() else {}
    # A key a run's config lacks is an option added after the run; options are added with the
    # default that keeps earlier behaviour, so the current default stands in for it and runs of
    # different versions with the same settings fall into one group.
    flat = {**_defaults(), **flatten(config)}
    adaptation = _evaluation(path, tasks, own=flat["eval.tasks"] == tasks)
    return RunRecord(path, flat, adaptation, _progress(path), environment or {})


def _evaluation(path: Path, tasks: str, own: bool) -> dict[str, Any] | None:
    """The final evaluation on `tasks` (the run's own set: adaptation.json; another:
    adaptation_<tasks>-tasks.json), else for a run stopped before its end the latest checkpoint
    evaluation on that set (adaptation_iterN[_<tasks>-tasks].json), else None."""
    suffix = "" if own else f"_{tasks}-tasks"
    for name in (f"eval/adaptation{suffix}.json", f"adaptation{suffix}.json"):
        if (path / name).is_file():
            return json.loads((path / name).read_text())
    pattern = re.compile(rf"adaptation_iter(\d+){re.escape(suffix)}\.json")
    periodic = [
        (int(match[1]), file)
        for file in path.glob("eval/adaptation_iter*.json")
        if (match := pattern.fullmatch(file.name))
    ]
    return json.loads(max(periodic)[1].read_text()) if periodic else None


def _defaults() -> dict[str, Any]:
    from metarl.config import Config

    return flatten(Config().to_dict())


def _progress(path: Path) -> dict[str, np.ndarray]:
    if (path / PROGRESS).is_file():
        header, rows = read_rows(path / PROGRESS)
        return {
            column: np.array([_float(row.get(column, "")) for row in rows]) for column in header
        }
    if any(path.glob("events.out.tfevents.*")):
        return _from_events(path)
    return {}


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


def _from_events(path: Path) -> dict[str, np.ndarray]:
    """The scalars of TensorBoard event files, as progress.csv would hold them."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(path), size_guidance={"scalars": 0})
    accumulator.Reload()
    by_step: dict[int, dict[str, float]] = {}
    for tag in accumulator.Tags()["scalars"]:
        for event in accumulator.Scalars(tag):  # a later event at a step replaces an earlier one
            by_step.setdefault(event.step, {})[tag] = event.value
    steps = sorted(by_step)
    tags = sorted({tag for values in by_step.values() for tag in values})
    columns = {"iteration": np.array(steps, dtype=float)}
    for tag in tags:
        columns[tag] = np.array([by_step[s].get(tag, math.nan) for s in steps])
    return columns
