"""Few-shot evaluation of a supervised run (`python -m metarl.evaluate RUN_DIR` calls it).

Draws `eval.num_tasks` held-out tasks from the fixed `eval.seed` (the same tasks for every run of
a family). For each K in `supervised.eval_shots` it draws K support examples and
`supervised.eval_query` query examples per task, adapts with the run's own update rule for
k = 0..steps inner steps on the support examples, and reports the query loss (MSE for
regression; loss and accuracy for classification) after each k: the mean over tasks and the
half-width of its 95% confidence interval. Writes RUN_DIR/eval/adaptation.json,
eval/adaptation.png, for regression eval/curves.png (adapted curves of a few tasks against the
true function), and TensorBoard scalars.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch

from metarl import allocator, checkpoint
from metarl.adapt import adapt_step
from metarl.algos import trained_update_rule
from metarl.config import Config
from metarl.policy import MLPPolicy, Params
from metarl.supervised.data import Examples
from metarl.supervised.families import SupervisedFamily
from metarl.update_rules import UpdateRule

CURVE_TASKS = 4
CURVE_POINTS = 200


def metric_of(family: SupervisedFamily) -> str:
    """The headline number: MSE for regression, accuracy for classification."""
    return "mse" if family.loss == "mse" else "accuracy"


def draw(
    family: SupervisedFamily, tasks: list, count: int, generator: torch.Generator, like: Params
) -> Examples:
    x = family.sample_inputs(len(tasks), count, generator)
    y = family.targets(tasks, x)
    reference = like["layers.0.weight"]
    return Examples(
        x.to(reference.device, reference.dtype),
        y.to(reference.device, reference.dtype),
        family.loss,
    )


def evaluate_supervised(
    family: SupervisedFamily,
    policy: MLPPolicy,
    params: Params,
    rule: UpdateRule,
    cfg: Config,
    num_tasks: int,
    steps: int,
) -> dict:
    """Query loss (and accuracy) after k = 0..steps inner steps with `rule`, for every K of
    cfg.supervised.eval_shots, on tasks drawn from cfg.eval.seed. Returns the result dict (no
    files); `curves` holds the regression curves of the first CURVE_TASKS tasks."""
    ev, sup = cfg.eval, cfg.supervised
    params = {k: v.detach() for k, v in params.items()}
    tasks = family.sample_tasks(num_tasks, np.random.default_rng(ev.seed))
    shots: dict[str, dict] = {}
    curves: dict[str, list] = {}
    for shots_k in sup.eval_shots:
        generator = torch.Generator().manual_seed(ev.seed + shots_k)
        support = draw(family, tasks, shots_k, generator, params)
        query = draw(family, tasks, sup.eval_query, generator, params)
        grid = None
        if family.loss == "mse" and family.input_dim == 1 and shots_k == sup.shots:
            grid = torch.linspace(*family.INPUT, CURVE_POINTS, dtype=support.inputs.dtype)
            curve_tasks = min(CURVE_TASKS, len(tasks))  # eval.num_tasks may be fewer
            grid = grid.to(support.inputs.device).view(1, -1, 1).expand(curve_tasks, -1, -1)
            curves = {"x": grid[0, :, 0].tolist(), "support_x": [], "support_y": []}
            curves["true"] = family.targets(tasks[:CURVE_TASKS], grid.cpu().double()).tolist()
            curves["support_x"] = support.inputs[:CURVE_TASKS, :, 0].tolist()
            curves["support_y"] = support.targets[:CURVE_TASKS, :, 0].tolist()
            curves["predicted"] = {}
        losses, accuracies = [], []
        adapted, state = params, None
        for k in range(steps + 1):
            with torch.no_grad():
                out = policy.mlp(adapted, query.inputs)
                losses.append(query.losses(out).cpu().numpy())
                if family.loss == "logistic":
                    accuracies.append(query.accuracy(out).cpu().numpy())
                if grid is not None:
                    few = {
                        name: v[:CURVE_TASKS] if v.dim() > params[name].dim() else v
                        for name, v in adapted.items()
                    }
                    predicted = policy.mlp(few, grid)[..., 0].tolist()
                    curves["predicted"][str(k)] = [[_finite(v) for v in row] for row in predicted]
            if k < steps:
                step_rule = rule if k == 0 else rule.scaled(ev.later_lr_scale)
                adapted, state = adapt_step(policy, adapted, step_rule, support, False, state)
        entry = {"loss": _summary(np.stack(losses))}
        if accuracies:
            entry["accuracy"] = _summary(np.stack(accuracies))
        shots[str(shots_k)] = entry
    return {
        "metric": metric_of(family),
        "steps": list(range(steps + 1)),
        "shots": shots,
        "curves": curves,
        "env": family.name,
        "num_tasks": num_tasks,
        "query": sup.eval_query,
        "train_shots": sup.shots,
        "task_seed": ev.seed,
        "update_rule": rule.description,
        "inner_lr": cfg.inner.lr,
        "later_lr_scale": ev.later_lr_scale,
    }


def _summary(per_task: np.ndarray) -> dict:
    """[steps + 1, tasks] -> mean, 95% CI half-width per step, and the per-task values. A value
    that is not finite (an adaptation that diverged, e.g. Meta-SGD's one-step step sizes applied
    ten times) is written as null, so the file stays strict JSON."""
    from metarl.confidence import mean_ci95

    with np.errstate(over="ignore", invalid="ignore"):
        stats = [mean_ci95(row) for row in per_task]
    return {
        "mean": [_finite(m) for m, _ in stats],
        "ci95": [_finite(c) for _, c in stats],
        "per_task": [[_finite(v) for v in row] for row in per_task.tolist()],
    }


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _number(x: float | None) -> str:
    if x is None:
        return "diverged"
    return f"{x:.3f}" if abs(x) < 1000 else f"{x:.2e}"


def headline(result: dict, K: int | str) -> dict:
    """The headline metric's {"mean", "ci95", "per_task"} for one K."""
    entry = result["shots"][str(K)]
    return entry["loss"] if result["metric"] == "mse" else entry["accuracy"]


def evaluate_supervised_run(
    run_dir: Path, cfg: Config, device: str, num_tasks: int | None, steps: int | None
) -> dict:
    from metarl.build import (
        build_policy,
        few_shot_threads,
        make_sampler,
        make_task_family,
        resolve_device,
    )

    dev = resolve_device(device)
    allocator.keep_large_allocations()
    few_shot_threads(dev)
    num_tasks = num_tasks or cfg.eval.num_tasks
    steps = cfg.eval.steps if steps is None else steps
    ckpt_path = checkpoint.latest(run_dir)
    state = checkpoint.load(ckpt_path, map_location=dev)
    family = make_task_family(cfg)
    policy = build_policy(cfg, family).to(dev)
    policy.load_state_dict(state["policy"])
    sampler = make_sampler(cfg, family, policy, num_tasks, cfg.supervised.shots, dev, cfg.eval.seed)
    rule = trained_update_rule(cfg, policy, sampler, state)
    result = evaluate_supervised(family, policy, policy.params(), rule, cfg, num_tasks, steps)
    result.update(algo=cfg.algo, iteration=int(state["iteration"]), checkpoint=str(ckpt_path))
    out = run_dir / "eval"
    out.mkdir(exist_ok=True)
    (out / "adaptation.json").write_text(json.dumps(result, indent=2))
    plot_adaptation(result, out / "adaptation.png")
    if result["curves"]:
        plot_curves(result, out / "curves.png")
    _tensorboard(result, run_dir)
    name = "MSE" if result["metric"] == "mse" else "accuracy"
    print(
        f"Evaluation on {num_tasks} held-out {family.name} tasks ({result['query']} query "
        f"examples each), {name} after k = 0..{steps} inner steps (± 95% CI):"
    )
    for K in result["shots"]:
        summary = headline(result, K)
        cells = "  ".join(
            f"k={k}: {_number(m)}" + ("" if m is None or c is None else f"±{_number(c)}")
            for k, m, c in zip(result["steps"], summary["mean"], summary["ci95"])
        )
        print(f"  K={K}: {cells}")
    written = ", ".join(p.name for p in sorted(out.iterdir()))
    print(f"Wrote {written} in {out}")
    return result


def plot_adaptation(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for K in result["shots"]:
        summary = headline(result, K)
        ax.errorbar(
            result["steps"],
            _floats(summary["mean"]),
            yerr=_floats(summary["ci95"]),
            marker="o",
            capsize=3,
            label=f"K = {K}",
        )
    ax.set_xlabel("inner steps")
    ax.set_ylabel(("MSE" if result["metric"] == "mse" else "accuracy") + " (95% CI)")
    ax.set_title(
        f"{result.get('algo', '')} on {result['num_tasks']} held-out {result['env']} tasks"
    )
    if result["metric"] == "mse":
        ax.set_yscale("log")  # a diverging adaptation would flatten every other curve
    ax.set_xticks(result["steps"])
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _floats(values: list) -> np.ndarray:
    """JSON's nulls (diverged) as NaN, which matplotlib leaves out."""
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def plot_curves(result: dict, path: Path) -> None:
    """The figure every few-shot regression paper shows: each task's true function, its K
    support points, and the network before adaptation, after one step and after the last."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = result["curves"]
    last = str(result["steps"][-1])
    fig, axes = plt.subplots(1, len(curves["true"]), figsize=(3.2 * len(curves["true"]), 2.8))
    for t, ax in enumerate(np.atleast_1d(axes)):
        ax.plot(curves["x"], np.asarray(curves["true"][t]).reshape(-1), "k-", label="true")
        for k, style in (("0", ":"), ("1", "--"), (last, "-")):
            if k in curves["predicted"]:
                ax.plot(curves["x"], _floats(curves["predicted"][k][t]), style, label=f"k = {k}")
        ax.plot(curves["support_x"][t], curves["support_y"][t], "k^", label="support")
        ax.set_xlabel("x")
        ax.grid(alpha=0.3)
    np.atleast_1d(axes)[0].legend(fontsize=7)
    fig.suptitle(f"{result.get('algo', '')}, K = {result['train_shots']}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _tensorboard(result: dict, run_dir: Path) -> None:
    from metarl.logger import EVAL_EVENTS, replacing_writer

    with replacing_writer(run_dir / EVAL_EVENTS) as writer:
        for K in result["shots"]:
            for k, m in zip(result["steps"], headline(result, K)["mean"]):
                if m is None:  # diverged: no point rather than an inf that hides the curve
                    continue
                writer.add_scalar(
                    f"eval/{result['metric']}_K{K}_after_{k}_steps", m, result["iteration"]
                )
