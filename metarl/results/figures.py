"""Figures: adaptation curves (held-out return after k inner steps) with 95% CI bands and the
papers' points, and training curves (pre / post adaptation, held-out over training) as mean and
95% CI band over seeds. Each is saved as PNG (for READMEs) and PDF (for papers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from metarl import storage
from metarl.results.groups import Group
from metarl.results.reference import references
from metarl.results.runs import RunRecord
from metarl.results.stats import across_seeds
from metarl.results.table import AdaptationSummary
from metarl.tb_layout import POST, PRE, held_out_tag

CURVE_REPS = 2_000  # bootstrap resamples per point of a training curve


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only; no display needed
    import matplotlib.pyplot as plt

    return plt


def save(figure, stem: Path) -> list[Path]:
    """stem.png (150 dpi) and stem.pdf; closes the figure."""
    plt = _pyplot()
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(".png"), stem.with_suffix(".pdf")]
    # Atomically, like every file of a run: a crash never leaves half a figure under its name.
    with storage.atomic_file(paths[0], "wb") as f:
        figure.savefig(f, format="png", dpi=150)
    with storage.atomic_file(paths[1], "wb") as f:
        figure.savefig(
            f, format="pdf", metadata={"CreationDate": None}
        )  # same file when regenerated
    plt.close(figure)
    return paths


def _draw_references(ax, family: str, steps: int) -> None:
    for i, ref in enumerate(references(family)):
        ks = [k for k, v in enumerate(ref.returns) if v is not None and k < steps]
        if not ks:
            continue
        values = [ref.returns[k] for k in ks]
        ax.plot(
            ks,
            values,
            linestyle=":" if len(ks) > 1 else "none",
            marker=["*", "D", "P"][i % 3],
            markersize=9 if i == 0 else 7,
            color="black" if i == 0 else "dimgray",
            label=ref.label,
            zorder=5,
        )


def run_adaptation_figure(result: dict[str, Any]):
    """One run's adaptation curve (eval/adaptation.json) with its 95% CI over held-out tasks."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.4), layout="constrained")
    steps = result["steps"]
    seed = f", seed {result['seed']}" if "seed" in result else ""
    ax.errorbar(
        steps,
        result["mean_return"],
        yerr=np.nan_to_num(np.asarray(result["ci95"], dtype=float)),
        marker="o",
        capsize=4,
        label=f"metarl {result['algo']}{seed}, iteration {result['iteration']}",
    )
    _draw_references(ax, result["env"], len(steps))
    ax.set_xlabel("inner policy-gradient steps k")
    ax.set_ylabel("mean return (95% CI over tasks)")
    ax.set_title(
        f"{result['env']}: adaptation on {result['num_tasks']} held-out tasks "
        f"({result['episodes_per_task']} episodes each)",
        fontsize=10,
    )
    ax.set_xticks(steps)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def family_adaptation_figure(family: str, summaries: list[AdaptationSummary]):
    """Every group of a family: mean over seeds with a 95% CI band, and the papers' points."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.4), layout="constrained")
    steps = max(s.steps for s in summaries)
    for s in summaries:
        ks = np.arange(s.steps)
        st = s.stats
        label = f"metarl {s.group.label}, {st.n} seed{'s' if st.n > 1 else ''}"
        (line,) = ax.plot(ks, st.mean, marker="o", label=label, zorder=4)
        if st.n > 1:
            ax.fill_between(ks, st.low, st.high, color=line.get_color(), alpha=0.2, linewidth=0)
    _draw_references(ax, family, steps)
    ax.set_xlabel("inner policy-gradient steps k")
    ax.set_ylabel("held-out return (mean over seeds, 95% CI)")
    ax.set_title(f"{family}: adaptation on held-out tasks", fontsize=10)
    ax.set_xticks(range(steps))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def _smooth(its: np.ndarray, scores: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Trailing moving average over `window` iterations of each run's curve [runs, iterations];
    the first window - 1 iterations are dropped."""
    if window <= 1 or scores.shape[1] < window:
        return its, scores
    kernel = np.ones(window) / window
    smoothed = np.stack([np.convolve(row, kernel, mode="valid") for row in scores])
    return its[window - 1 :], smoothed


def _aligned(runs: list[RunRecord], series) -> tuple[np.ndarray, np.ndarray] | None:
    """(iterations, [runs, iterations]) at the iterations that every run has."""
    data = [series(run) for run in runs]
    data = [(x, y) for x, y in data if len(x)]
    if len(data) < len(runs) or not data:
        return None
    common = set(data[0][0].tolist())
    for x, _ in data[1:]:
        common &= set(x.tolist())
    its = np.array(sorted(common), dtype=int)
    if len(its) == 0:
        return None
    rows = [y[np.searchsorted(x, its)] for x, y in data]
    return its, np.stack(rows)


def _band(ax, its, scores, label, color=None, linestyle="-"):
    st = across_seeds(scores, reps=CURVE_REPS)
    (line,) = ax.plot(its, st.mean, label=label, color=color, linestyle=linestyle, linewidth=1.4)
    if st.n > 1:
        ax.fill_between(its, st.low, st.high, color=line.get_color(), alpha=0.18, linewidth=0)
    return line.get_color()


def _held_out_series(run: RunRecord, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Evaluations during training, and the final evaluation at its iteration."""
    its, values = run.series(held_out_tag(k))
    final = run.adaptation
    if final is not None and k < len(final["mean_return"]):
        it = int(final.get("iteration", 0))
        if it not in its:
            its = np.append(its, it)
            values = np.append(values, final["mean_return"][k])
    order = np.argsort(its)
    return its[order], values[order]


def family_training_figure(family: str, groups: list[Group], smooth: int):
    """Pre / post adaptation on the training tasks over meta-iterations, and (for runs that
    evaluated during training) the held-out return after k steps over meta-iterations."""
    plt = _pyplot()
    curves = []
    for group in groups:
        pre = _aligned(group.runs, lambda r: r.series(PRE))
        post = _aligned(group.runs, lambda r: r.series(POST))
        if pre is not None and post is not None:
            curves.append((group, pre, post))
    held = []
    for group in groups:
        steps = min(
            (len(r.adaptation["mean_return"]) for r in group.runs if r.adaptation), default=0
        )
        per_k = [_aligned(group.runs, lambda r, k=k: _held_out_series(r, k)) for k in range(steps)]
        if per_k and all(p is not None and len(p[0]) > 1 for p in per_k):
            held.append((group, per_k))
    if not curves and not held:
        return None
    panels = (1 if curves else 0) + (1 if held else 0)
    fig, axes = plt.subplots(1, panels, figsize=(6.4 * panels, 4.4), layout="constrained")
    axes = np.atleast_1d(axes)
    if curves:
        ax = axes[0]
        for group, pre, post in curves:
            n = len(group.runs)
            seeds = f"{n} seed{'s' if n > 1 else ''}"
            color = _band(ax, *_smooth(*post, smooth), f"{group.label}: post-adaptation ({seeds})")
            _band(ax, *_smooth(*pre, smooth), f"{group.label}: pre-adaptation", color, "--")
        ax.set_xlabel("meta-iteration")
        ylabel = "return on the training tasks"
        ax.set_ylabel(ylabel + (f" (moving average of {smooth})" if smooth > 1 else ""))
        ax.set_title(f"{family}: training (mean over seeds, 95% CI)", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if held:
        ax = axes[-1]
        single = len(held) == 1
        for group, per_k in held:
            ks = range(len(per_k)) if single else [min(1, len(per_k) - 1)]
            for k in ks:
                label = f"k = {k}" if single else f"{group.label}: k = {k}"
                _band(ax, *per_k[k], label)
        ax.set_xlabel("meta-iteration")
        ax.set_ylabel("held-out return after k inner steps")
        title = f"{family}: held-out tasks during training"
        ax.set_title(title + (f" ({held[0][0].label})" if single else ""), fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return fig
