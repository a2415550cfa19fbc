"""Adaptation curves on held-out tasks: `python -m metarl.evaluate RUN_DIR`.

Loads the run's final checkpoint (or `--checkpoint`), draws `eval.num_tasks` held-out tasks, and
reports the mean return after k = 0..steps inner steps with a 95% confidence interval over tasks
(exact Student t). Writes RUN_DIR/eval/adaptation.json, the adaptation curve next to the paper's
(adaptation.png and .pdf), and TensorBoard scalars (returns/held_out_k0..k{steps}) and that figure
at the checkpoint's iteration.

The protocol cannot flatter or shortchange a run:
- held-out tasks come from their own random stream (`metarl.held_out`), which no training seed
  reproduces, so they never coincide with a training batch (a family with finitely many tasks,
  such as a direction of +-1, repeats its tasks: there held-out means new episodes, and the result
  says so);
- a family with a test split of its own (an env method `held_out_tasks(n, rng)`, e.g. Meta-World's
  test goals and classes) is evaluated on that split, never on its training tasks;
- the first `inner.steps` steps use the step sizes the run was trained with (its schedule,
  `inner.later_lr_scale` after the first step); only later steps are scaled by
  `eval.later_lr_scale` (the MAML paper: 0.1, then 0.05 for a 1-step MAML).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from metarl import allocator, checkpoint, interrupts, run_state, storage, supervised
from metarl.adapt import adaptation_rollouts, step_scales
from metarl.algos import trained_update_rule
from metarl.build import build_policy, make_sampler, resolve_device
from metarl.confidence import mean_ci95
from metarl.config import EVAL_TASK_SETS, Config
from metarl.errors import ConfigError, MetaRLError, unknown_name
from metarl.held_out import held_out_tasks, jsonable_task
from metarl.progname import prog
from metarl.rundir import load_config
from metarl.runlock import writes_run
from metarl.sampler import Sampler
from metarl.tasks import make_family
from metarl.update_rules import FixedStep, UpdateRule


def paired_gains(per_task: np.ndarray) -> dict:
    """Each task's gain over its own unadapted return, k = 1..K: mean ± 95% CI and the number of
    tasks that improve. Pairing removes the spread between tasks (on cheetah-vel the goal velocity
    alone moves a return by ±30), so it resolves gains the unpaired intervals cannot."""
    gains = per_task[1:] - per_task[:1]
    stats = [mean_ci95(row) for row in gains]
    return {
        "paired_gain": [m for m, _ in stats],
        "paired_gain_ci95": [c for _, c in stats],
        "tasks_improved": [int((row > 0).sum()) for row in gains],
    }


def distinct_tasks(tasks: list) -> int:
    """How many different tasks `tasks` holds (a family with finitely many tasks repeats them)."""
    return len({repr(task) for task in tasks})


def adaptation_curve(
    cfg: Config, sampler: Sampler, rule: UpdateRule, tasks: list, steps: int
) -> dict:
    """Returns after k = 0..steps inner steps on `tasks` (one per sampler task), per task and as
    mean ± 95% CI. The first `inner.steps` steps use the schedule the run was trained with
    (inner.later_lr_scale after the first), later ones the rule scaled by `eval.later_lr_scale`."""
    ev = cfg.eval
    scales = step_scales(cfg.inner, steps, ev.later_lr_scale)
    batches, _ = adaptation_rollouts(
        sampler, sampler.policy.params(), rule, tasks, steps, cfg.inner, scales
    )
    per_task = np.stack([b.episode_returns().mean(1).cpu().numpy() for b in batches])  # [k, N]
    stats = [mean_ci95(row) for row in per_task]
    distinct = distinct_tasks(tasks)
    return {
        "steps": list(range(steps + 1)),
        "mean_return": [m for m, _ in stats],
        "ci95": [c for _, c in stats],
        **paired_gains(per_task),
        "num_tasks": len(tasks),
        "episodes_per_task": sampler.episodes_per_task,
        "per_task_mean_return": per_task.tolist(),
        "task_list": [jsonable_task(task) for task in tasks],
        "algo": cfg.algo,
        "env": cfg.env.name,
        "seed": cfg.seed,
        "later_lr_scale": ev.later_lr_scale,
        "step_size_scale_per_step": scales,
        "distinct_tasks": distinct,
        "held_out": "new tasks" if distinct == len(tasks) else "new episodes of repeated tasks",
        **success_rates(batches),
    }


@writes_run("evaluation")
def evaluate_run(
    run_dir: str | Path,
    device: str = "cpu",
    num_tasks: int | None = None,
    episodes_per_task: int | None = None,
    steps: int | None = None,
    checkpoint_path: str | Path | None = None,
    tasks: str | None = None,
) -> dict:
    """The adaptation curve of a run's checkpoint on its held-out tasks, written to
    RUN_DIR/eval/. `tasks` ('sampled' or 'paper') evaluates on another task set than the run's
    eval.tasks; that curve is written beside the run's own (adaptation_<tasks>-tasks.json) and
    leaves its TensorBoard curve alone."""
    run_dir = Path(run_dir)
    cfg = load_config(run_dir)
    other_tasks = tasks is not None and tasks != cfg.eval.tasks
    if tasks is not None:
        if tasks not in EVAL_TASK_SETS:
            raise unknown_name("task set", tasks, EVAL_TASK_SETS)
        cfg.eval.tasks = tasks
    if supervised.is_supervised(cfg.env.name):
        if cfg.eval.tasks == "paper":
            raise ConfigError(
                f"The paper's test tasks are RL goals; {cfg.env.name} is a supervised family. "
                "Evaluate it with --tasks sampled (its default)."
            )
        from metarl.evaluate_supervised import evaluate_supervised_run

        return evaluate_supervised_run(run_dir, cfg, device, num_tasks, steps)
    ev = cfg.eval
    num_tasks = num_tasks or ev.num_tasks
    episodes_per_task = episodes_per_task or ev.episodes_per_task
    steps = ev.steps if steps is None else steps
    dev = resolve_device(device)
    allocator.keep_large_allocations()  # as in training: no page faults for large tensors

    ckpt_path = Path(checkpoint_path) if checkpoint_path else checkpoint.latest(run_dir)
    state = checkpoint.load(ckpt_path, map_location=dev)
    family = make_family(cfg.env.name, cfg.env.horizon, cfg.env.imports)
    policy = build_policy(cfg, family).to(dev)
    run_state.validate_policy(policy, state, ckpt_path)
    policy.load_state_dict(state["policy"])

    tasks, noise_seed = held_out_tasks(cfg, family, num_tasks)
    sampler = make_sampler(cfg, family, policy, num_tasks, episodes_per_task, dev, noise_seed)
    try:
        rule = trained_update_rule(cfg, policy, sampler, state)
        curve = adaptation_curve(cfg, sampler, rule, tasks, steps)
    finally:
        sampler.close()
    result = {
        **curve,
        "iteration": int(state["iteration"]),
        "checkpoint": str(ckpt_path),
        "task_seed": ev.seed,
        "tasks": ev.tasks,
        "inner_lr_first_step": rule.lr if isinstance(rule, FixedStep) else f"learned ({cfg.algo})",
        "update_rule": rule.description,
    }
    distinct = result["distinct_tasks"]
    out = run_dir / "eval"
    out.mkdir(exist_ok=True)
    # The final policy's curve is adaptation.json; an earlier checkpoint's is kept beside it.
    stem = "adaptation" if checkpoint_path is None else f"adaptation_iter{result['iteration']}"
    stem += f"_{ev.tasks}-tasks" if other_tasks else ""
    storage.write_text(out / f"{stem}.json", json.dumps(result, indent=2))
    _plot(result, out / f"{stem}.png")
    if not other_tasks:
        _tensorboard(result, run_dir)
    summary = "  ".join(
        f"k={k}: {m:.2f} ± {c:.2f}"
        for k, m, c in zip(result["steps"], result["mean_return"], result["ci95"])
    )
    which = "of the MAML paper's test tasks" if ev.tasks == "paper" else "held-out tasks"
    print(f"Evaluation on {num_tasks} {which} ({episodes_per_task} episodes each): {summary}")
    gains = "  ".join(
        f"k={k}: {g:+.2f} ± {c:.2f} ({n}/{num_tasks} improve)"
        for k, g, c, n in zip(
            result["steps"][1:],
            result["paired_gain"],
            result["paired_gain_ci95"],
            result["tasks_improved"],
        )
    )
    print(f"Gain over k=0, task by task: {gains}")
    if "success_rate" in result:
        rates = zip(result["steps"], result["success_rate"])
        print("Success rate: " + "  ".join(f"k={k}: {r:.1%}" for k, r in rates))
    if distinct < num_tasks:
        print(
            f"Note: {cfg.env.name} has finitely many tasks ({distinct} distinct among the "
            f"{num_tasks} drawn), so training saw them too: held-out here means new episodes, "
            "not new tasks."
        )
    print(f"Wrote {out / f'{stem}.json'} and {out / f'{stem}.png'} (and .pdf)")
    return result


def success_rates(batches: list) -> dict:
    """Share of episodes that succeeded (info["success"] at some step) after k = 0..steps inner
    steps, with its 95% CI over tasks; empty for a family that reports no success."""
    if batches[0].successes is None:
        return {}
    per_task = np.stack([b.successes.mean(1).cpu().numpy() for b in batches])  # [k, N]
    stats = [mean_ci95(row) for row in per_task]
    return {
        "success_rate": [m for m, _ in stats],
        "success_ci95": [c for _, c in stats],
        "per_task_success_rate": per_task.tolist(),
    }


def _plot(result: dict, path: Path) -> None:
    from metarl.results.figures import run_adaptation_figure, save

    save(run_adaptation_figure(result), path.with_suffix(""))


def _tensorboard(result: dict, run_dir: Path) -> None:
    from metarl.logger import EVAL_EVENTS, replacing_writer
    from metarl.results.figures import run_adaptation_figure
    from metarl.tb_layout import HELD_OUT_FIGURE, held_out_success_tag, held_out_tag

    with replacing_writer(run_dir / EVAL_EVENTS) as writer:
        for k, m in zip(result["steps"], result["mean_return"]):
            writer.add_scalar(held_out_tag(k), m, result["iteration"])
        writer.add_figure(HELD_OUT_FIGURE, run_adaptation_figure(result), result["iteration"])
        for k, rate in zip(result["steps"], result.get("success_rate", [])):
            writer.add_scalar(held_out_success_tag(k), rate, result["iteration"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=prog("metarl-evaluate", "metarl.evaluate"),
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
    parser.add_argument(
        "--checkpoint",
        default=None,
        help="checkpoint file to evaluate (default: checkpoints/final.pt, else the newest)",
    )
    parser.add_argument(
        "--tasks",
        choices=EVAL_TASK_SETS,
        default=None,
        help="task set (default: the run's eval.tasks): 'sampled' draws from eval.seed, 'paper' "
        "takes the MAML paper's test goals; another set than the run's is written to "
        "eval/adaptation_<set>-tasks.json",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    args = parser.parse_args(argv)
    try:
        with interrupts.handling() as stop:
            stop.enter("the evaluation", interrupts.ABANDON)
            evaluate_run(
                args.run_dir,
                args.device,
                args.num_tasks,
                args.episodes,
                args.steps,
                args.checkpoint,
                args.tasks,
            )
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
