"""A run's small files, copied into a results folder that is committed with the docs:

    <to>/<env>/<algo>/<run name>/config.yaml, environment.yaml, eval/adaptation*.json, progress.csv

(the final evaluation, those of earlier checkpoints and those on another task set).

progress.csv keeps the columns the results command reads (returns, held-out returns, seconds per
iteration, env steps), a few tens of KB for 500 iterations. The layout is a run directory's, so
`metarl-results` reads the exported folder as it reads the run."""

from __future__ import annotations

import csv
import json
import math
import re
import shutil
from pathlib import Path

import numpy as np

from metarl.errors import ResultsError
from metarl.progress import FILENAME as PROGRESS
from metarl.results.runs import load_run

KEEP = re.compile(r"^(iteration|wall_time|returns/.*|time/(iteration|eval)|throughput/.*)$")


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def export_run(run_dir: Path, to: Path) -> Path:
    run = load_run(run_dir)
    if run.adaptation is None and not run.progress:
        raise ResultsError(
            f"'{run_dir}' has neither eval/adaptation.json nor progress.csv (or TensorBoard "
            "events): nothing to export. Evaluate it first: python -m metarl.evaluate "
            f"{run_dir}"
        )
    dest = to / _slug(run.family) / _slug(run.algo) / run_dir.resolve().name
    if dest.resolve() == run_dir.resolve():
        raise ResultsError(f"'{run_dir}' is already in the results folder '{to}'.")
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(run_dir / "config.yaml", dest / "config.yaml")
    if (run_dir / "environment.yaml").is_file():
        shutil.copyfile(run_dir / "environment.yaml", dest / "environment.yaml")
    # Every evaluation under its own name: the final one (adaptation.json), those of earlier
    # checkpoints (adaptation_iterN.json, e.g. of a run stopped early) and those on another task
    # set (adaptation*_paper-tasks.json); a run of older releases kept it beside config.yaml.
    if (run_dir / "adaptation.json").is_file():
        _write_adaptation(
            json.loads((run_dir / "adaptation.json").read_text()), dest / "eval" / "adaptation.json"
        )
    for evaluation in sorted((run_dir / "eval").glob("adaptation*.json")):
        _write_adaptation(json.loads(evaluation.read_text()), dest / "eval" / evaluation.name)
    if run.progress:
        _write_summary(run.progress, dest / PROGRESS)
    return dest


def _write_adaptation(adaptation: dict, path: Path) -> None:
    adaptation = dict(adaptation)
    if "checkpoint" in adaptation:  # where it was on the machine that ran it: not portable
        adaptation["checkpoint"] = Path(adaptation["checkpoint"]).name
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(adaptation, indent=2) + "\n")


def _write_summary(progress: dict[str, np.ndarray], path: Path) -> None:
    columns = [c for c in progress if KEEP.match(c)]
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        for i in range(len(progress["iteration"])):
            writer.writerow([_cell(c, progress[c][i]) for c in columns])


def _cell(column: str, value: float) -> str:
    if not math.isfinite(value):
        return ""
    if column == "iteration":
        return str(int(value))
    return f"{value:.6g}" if column != "wall_time" else f"{value:.1f}"
