"""The results table: held-out returns after k inner steps per group, mean over seeds with its 95%
CI, next to the papers' numbers; as markdown (one table per family) and as long-format CSV."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from metarl.results.groups import Group
from metarl.results.reference import Reference, references
from metarl.results.stats import METHOD, AcrossSeeds, across_seeds


@dataclass
class AdaptationSummary:
    group: Group
    per_seed: np.ndarray
    """[seeds, k]: each run's mean return over the held-out tasks after k inner steps."""
    stats: AcrossSeeds
    iterations: list[int]
    seconds: list[float]
    """Median seconds per meta-iteration of each run (NaN where unknown)."""
    num_tasks: int
    episodes_per_task: int
    task_ci95: list[float] | None = None
    """One seed only: the half-width of the 95% CI over held-out tasks at each k (the run's own
    adaptation.json), the only interval a single run has."""

    @property
    def steps(self) -> int:
        return self.per_seed.shape[1]

    @property
    def seconds_per_iteration(self) -> float:
        known = [s for s in self.seconds if math.isfinite(s)]
        return float(np.mean(known)) if known else math.nan


def summarise(group: Group, reps: int) -> AdaptationSummary | None:
    """None when no run of the group has a final evaluation (eval/adaptation.json)."""
    runs = [run for run in group.runs if run.adaptation is not None]
    if not runs:
        return None
    steps = min(len(run.adaptation["mean_return"]) for run in runs)
    per_seed = np.array([run.adaptation["mean_return"][:steps] for run in runs], dtype=float)
    task_ci = runs[0].adaptation.get("ci95") if len(runs) == 1 else None
    return AdaptationSummary(
        group,
        per_seed,
        across_seeds(per_seed, reps=reps),
        [int(run.adaptation.get("iteration", 0)) for run in runs],
        [run.seconds_per_iteration() for run in runs],
        int(runs[0].adaptation.get("num_tasks", 0)),
        int(runs[0].adaptation.get("episodes_per_task", 0)),
        [float(v) for v in task_ci[:steps]] if task_ci else None,
    )


def _number(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:.2f}".replace("-", "−")


def _cell(summary: AdaptationSummary, k: int) -> str:
    if k >= summary.steps:
        return "–"
    s = summary.stats
    if s.n < 2:
        return _number(s.mean[k])
    return f"{_number(s.mean[k])} [{_number(s.low[k])}, {_number(s.high[k])}]"


def _seeds(group: Group, summary: AdaptationSummary) -> str:
    seeds = sorted(run.seed for run in group.runs if run.adaptation is not None)
    return f"{len(seeds)} ({', '.join(map(str, seeds))})"


def _iterations(summary: AdaptationSummary) -> str:
    values = sorted(set(summary.iterations))
    return ", ".join(map(str, values))


def _headline_cell(summary: AdaptationSummary, k: int) -> str:
    if k >= summary.steps:
        return "–"
    if summary.stats.n < 2 and summary.task_ci95 is not None:
        return f"{_number(summary.stats.mean[k])} ± {summary.task_ci95[k]:.2f}"
    return _cell(summary, k)


def _reference_cells(ref: Reference, steps: int) -> list[str]:
    return [_number(ref.returns[k]) if k < len(ref.returns) else "–" for k in range(steps)]


def _task_note(summaries: list[AdaptationSummary], tasks: str) -> str:
    sizes = sorted({(s.num_tasks, s.episodes_per_task) for s in summaries})
    which = "of the MAML paper's test tasks" if tasks == "paper" else "held-out tasks"
    return "; ".join(f"{n} {which}, {e} episodes each" for n, e in sizes)


def headline(summaries: list[AdaptationSummary], reps: int, tasks: str = "sampled") -> str:
    """All families in one table, each family's papers' rows before metarl's, families in the
    order they first appear in `summaries`: the cross-family table at the top of a results page."""
    steps = max(
        [s.steps for s in summaries]
        + [len(r.returns) for s in summaries for r in references(s.group.family)]
    )
    head = "| family | source | seeds | iterations | " + " | ".join(
        f"k = {k}" for k in range(steps)
    )
    lines = [head + " |", "|---" * (steps + 4) + "|"]
    for family in dict.fromkeys(s.group.family for s in summaries):
        for ref in references(family):
            cells = _reference_cells(ref, steps)
            lines.append(f"| {family} | {ref.label} | – | – | " + " | ".join(cells) + " |")
        for s in (s for s in summaries if s.group.family == family):
            cells = [_headline_cell(s, k) for k in range(steps)]
            lines.append(
                f"| {family} | metarl {s.group.label} | {_seeds(s.group, s)} | "
                f"{_iterations(s)} | " + " | ".join(cells) + " |"
            )
    note = (
        f"Each metarl cell: the mean return on the tasks ({_task_note(summaries, tasks)}) "
        "after k inner steps. "
        "One seed: ± the half-width of the 95% CI over tasks (Student t). Several seeds: the mean "
        f"over seeds, [95% CI across seeds: {METHOD}, {reps:,} resamples]. A label's settings "
        "are the config keys in which the family's runs of that algorithm differ."
    )
    return "\n".join(lines) + "\n\n" + note + "\n"


def markdown(
    family: str, summaries: list[AdaptationSummary], reps: int, tasks: str = "sampled"
) -> str:
    """One family's table: the papers' rows first, then each group's."""
    steps = max([s.steps for s in summaries] + [len(r.returns) for r in references(family)])
    head = "| source | seeds | iterations | " + " | ".join(f"k = {k}" for k in range(steps))
    lines = [head + " | s / iteration |", "|---" * (steps + 4) + "|"]
    for ref in references(family):
        cells = _reference_cells(ref, steps)
        lines.append(f"| {ref.label} | – | – | " + " | ".join(cells) + " | – |")
    for s in summaries:
        cells = [_cell(s, k) for k in range(steps)]
        lines.append(
            f"| metarl {s.group.label} | {_seeds(s.group, s)} | {_iterations(s)} | "
            + " | ".join(cells)
            + f" | {_number(s.seconds_per_iteration)} |"
        )
    note = (
        f"Each metarl cell: mean over seeds of the mean return on the tasks "
        f"({_task_note(summaries, tasks)}) "
        f"after k inner steps, [95% CI across seeds: {METHOD}, {reps:,} resamples]. "
        "s / iteration: median per run, mean over seeds."
    )
    return "\n".join(lines) + "\n\n" + note + "\n"


CSV_COLUMNS = [
    "family",
    "source",
    "algo",
    "settings",
    "n_seeds",
    "seeds",
    "iterations",
    "k",
    "mean",
    "ci_low",
    "ci_high",
    "iqm",
    "iqm_ci_low",
    "iqm_ci_high",
    "per_seed",
    "seconds_per_iteration",
    "held_out_tasks",
    "episodes_per_task",
]


def write_csv(path: Path, summaries: list[AdaptationSummary]) -> None:
    """Long format: one row per (source, k); the papers' rows have source = their label."""
    rows = []
    for family in dict.fromkeys(s.group.family for s in summaries):
        for ref in references(family):
            for k, value in enumerate(ref.returns):
                if value is not None:
                    rows.append(
                        {
                            "family": family,
                            "source": ref.label,
                            "algo": ref.algo,
                            "k": k,
                            "mean": value,
                        }
                    )
    for s in summaries:
        g, st = s.group, s.stats
        for k in range(s.steps):
            rows.append(
                {
                    "family": g.family,
                    "source": "metarl",
                    "algo": g.algo,
                    "settings": "; ".join(f"{key}={v}" for key, v in g.settings.items()),
                    "n_seeds": st.n,
                    "seeds": " ".join(str(run.seed) for run in g.runs if run.adaptation),
                    "iterations": " ".join(map(str, s.iterations)),
                    "k": k,
                    "mean": st.mean[k],
                    "ci_low": st.low[k],
                    "ci_high": st.high[k],
                    "iqm": st.iqm[k],
                    "iqm_ci_low": st.iqm_low[k],
                    "iqm_ci_high": st.iqm_high[k],
                    "per_seed": " ".join(f"{v:.4f}" for v in s.per_seed[:, k]),
                    "seconds_per_iteration": s.seconds_per_iteration,
                    "held_out_tasks": s.num_tasks,
                    "episodes_per_task": s.episodes_per_task,
                }
            )
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, CSV_COLUMNS, restval="")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _csv_value(v) for k, v in row.items()})


def _csv_value(value):
    if isinstance(value, float | np.floating):
        return "" if not math.isfinite(value) else f"{float(value):.10g}"
    return value
