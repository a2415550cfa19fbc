"""Adaptation curves on held-out tasks: `python -m metarl.evaluate RUN_DIR`.

Loads the run's final checkpoint, draws `eval.num_tasks` tasks from the fixed `eval.seed` (the
same tasks for every run of a family), and reports the mean return after k = 0..steps inner steps
with a 95% confidence interval over tasks. Writes RUN_DIR/eval/adaptation.json, a PNG plot and
TensorBoard scalars (eval/return_after_k_steps at the checkpoint's iteration).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

from metarl import allocator, checkpoint, interrupts, run_state, storage
from metarl.adapt import adaptation_rollouts
from metarl.errors import MetaRLError
from metarl.rundir import load_config
from metarl.runlock import writes_run
from metarl.tasks import make_family

# Student-t 97.5% quantiles for small samples; 1.96 beyond.
_T975 = {1: 12.71, 2: 4.30, 3: 3.18, 4: 2.78, 5: 2.57, 9: 2.26, 19: 2.09, 29: 2.05, 39: 2.02}


def _t975(dof: int) -> float:
    known = [d for d in sorted(_T975) if d <= dof]
    return _T975[known[-1]] if dof < 60 and known else 1.96


def mean_ci95(per_task: np.ndarray) -> tuple[float, float]:
    """Mean over tasks and the half-width of its 95% confidence interval (Student t)."""
    n = len(per_task)
    if n < 2:
        return float(per_task.mean()), math.nan
    return float(per_task.mean()), float(_t975(n - 1) * per_task.std(ddof=1) / math.sqrt(n))


@writes_run("evaluation")
def evaluate_run(
    run_dir: str | Path,
    device: str = "cpu",
    num_tasks: int | None = None,
    episodes_per_task: int | None = None,
    steps: int | None = None,
) -> dict:
    from metarl.trainer import build_policy, make_sampler, resolve_device

    run_dir = Path(run_dir)
    cfg = load_config(run_dir)
    ev = cfg.eval
    num_tasks = num_tasks or ev.num_tasks
    episodes_per_task = episodes_per_task or ev.episodes_per_task
    steps = ev.steps if steps is None else steps
    dev = resolve_device(device)
    allocator.keep_large_allocations()  # as in training: no page faults for large tensors

    ckpt_path = checkpoint.latest(run_dir)
    state = checkpoint.load(ckpt_path, map_location=dev)
    family = make_family(cfg.env.name, cfg.env.horizon, cfg.env.imports)
    policy = build_policy(cfg, family).to(dev)
    run_state.validate_policy(policy, state, ckpt_path)
    policy.load_state_dict(state["policy"])
    step_sizes = state["algo"].get("step_sizes", cfg.inner.lr)

    tasks = family.sample_tasks(num_tasks, np.random.default_rng(ev.seed))
    sampler = make_sampler(cfg, family, policy, num_tasks, episodes_per_task, dev, ev.seed)
    try:
        batches, _ = adaptation_rollouts(
            sampler, policy.params(), step_sizes, tasks, steps, cfg.inner, ev.later_lr_scale
        )
    finally:
        sampler.close()
    per_task = np.stack([b.episode_returns().mean(1).cpu().numpy() for b in batches])  # [k, N]
    stats = [mean_ci95(row) for row in per_task]
    result = {
        "steps": list(range(steps + 1)),
        "mean_return": [m for m, _ in stats],
        "ci95": [c for _, c in stats],
        "num_tasks": num_tasks,
        "episodes_per_task": episodes_per_task,
        "per_task_mean_return": per_task.tolist(),
        "algo": cfg.algo,
        "env": cfg.env.name,
        "iteration": int(state["iteration"]),
        "checkpoint": str(ckpt_path),
        "task_seed": ev.seed,
        "inner_lr_first_step": "learned (Meta-SGD)"
        if isinstance(step_sizes, dict)
        else cfg.inner.lr,
        "later_lr_scale": ev.later_lr_scale,
    }
    out = run_dir / "eval"
    out.mkdir(exist_ok=True)
    storage.write_text(out / "adaptation.json", json.dumps(result, indent=2))
    _plot(result, out / "adaptation.png")
    _tensorboard(result, run_dir)
    summary = "  ".join(
        f"k={k}: {m:.2f} ± {c:.2f}"
        for k, m, c in zip(result["steps"], result["mean_return"], result["ci95"])
    )
    print(
        f"Evaluation on {num_tasks} held-out tasks ({episodes_per_task} episodes each): {summary}"
    )
    print(f"Wrote {out / 'adaptation.json'} and {out / 'adaptation.png'}")
    return result


def _plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.errorbar(
        result["steps"],
        result["mean_return"],
        yerr=result["ci95"],
        marker="o",
        capsize=4,
        label=f"{result['algo']} (iteration {result['iteration']})",
    )
    ax.set_xlabel("inner policy-gradient steps")
    ax.set_ylabel("mean return (95% CI)")
    ax.set_title(f"Adaptation on {result['num_tasks']} held-out {result['env']} tasks")
    ax.set_xticks(result["steps"])
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    with storage.atomic_file(path, "wb") as f:
        fig.savefig(f, format="png", dpi=120)
    plt.close(fig)


def _tensorboard(result: dict, run_dir: Path) -> None:
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(log_dir=str(run_dir))
    for k, m in zip(result["steps"], result["mean_return"]):
        writer.add_scalar(f"eval/return_after_{k}_steps", m, result["iteration"])
    writer.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m metarl.evaluate",
        description="Adaptation curve of a trained run on held-out tasks.",
    )
    parser.add_argument("run_dir", help="a run directory printed by train.py")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda (default: auto)")
    parser.add_argument(
        "--num-tasks", type=int, default=None, help="held-out tasks (default: eval.num_tasks)"
    )
    parser.add_argument("--episodes", type=int, default=None, help="episodes per task and step")
    parser.add_argument(
        "--steps", type=int, default=None, help="inner steps to evaluate (default: 3)"
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    args = parser.parse_args(argv)
    try:
        with interrupts.handling() as stop:
            stop.enter("the evaluation", interrupts.ABANDON)
            evaluate_run(args.run_dir, args.device, args.num_tasks, args.episodes, args.steps)
    except interrupts.Abandoned as err:
        print(
            f"Stopped by {interrupts.name(err.signum)} during the evaluation, which was "
            "abandoned; its outputs may be incomplete. Run it again.",
            file=sys.stderr,
        )
        return interrupts.exit_code(err.signum)
    except MetaRLError as err:
        if args.debug:
            raise
        print(f"error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # a full or read-only disk while writing the outputs
        if args.debug or not storage.is_storage_fault(err):
            raise
        print(f"error: {storage.fault_error(Path(err.filename or '.'), err)}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
