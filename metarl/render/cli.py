"""`metarl-render RUN_DIR` (or `python -m metarl.render RUN_DIR`): point-goal -> a trajectory
figure; MuJoCo families -> a video. Both go to RUN_DIR/render/ unless --out says otherwise."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from metarl.errors import MetaRLError, ResultsError


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="metarl-render",
        description="See a trained policy before and after adaptation on held-out tasks: "
        "point-goal gives a figure of trajectories (PNG and PDF), MuJoCo families a video "
        "(mp4 or gif), rendered offscreen.",
    )
    p.add_argument("run_dir", type=Path, help="a run directory printed by train.py")
    p.add_argument("--out", type=Path, default=None, help="output folder (default: RUN_DIR/render)")
    p.add_argument(
        "--steps", type=int, default=None, help="inner steps to show (default: eval.steps)"
    )
    p.add_argument(
        "--episodes",
        type=int,
        default=None,
        help="trajectories per task and inner step to adapt on (default: eval.episodes_per_task)",
    )
    p.add_argument("--goals", type=int, default=3, help="point-goal: held-out goals (default: 3)")
    p.add_argument(
        "--task", type=int, default=0, help="MuJoCo: which held-out task (index, default: 0)"
    )
    p.add_argument(
        "--format",
        choices=("auto", "mp4", "gif"),
        default="auto",
        help="MuJoCo video format (default: mp4 when imageio-ffmpeg is installed, else gif)",
    )
    p.add_argument(
        "--stochastic",
        action="store_true",
        help="MuJoCo: sample actions (default: the policy's mean action)",
    )
    p.add_argument("--device", default="cpu", help="cpu | cuda | auto (default: cpu)")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    return p


def render(args: argparse.Namespace) -> list[Path]:
    from metarl.render import trajectories, video
    from metarl.render.trained import load

    trained = load(args.run_dir, args.device)
    ev = trained.cfg.eval
    steps = ev.steps if args.steps is None else args.steps
    episodes = args.episodes or ev.episodes_per_task
    out = args.out or args.run_dir / "render"
    if steps < 0 or episodes < 1 or args.goals < 1 or not 0 <= args.task < ev.num_tasks:
        raise ResultsError(
            f"Expected --steps >= 0, --episodes >= 1, --goals >= 1 and 0 <= --task < "
            f"{ev.num_tasks} (eval.num_tasks); got {steps}, {episodes}, {args.goals}, {args.task}."
        )
    if trained.cfg.env.name == "point-goal":
        return trajectories.write(trained, out, args.goals, max(steps, 1), episodes)
    if video.is_mujoco(trained):
        return video.write(
            trained, out, args.task, steps, episodes, args.format, stochastic=args.stochastic
        )
    raise ResultsError(
        f"metarl-render draws point-goal (a trajectory figure) and MuJoCo families (a video); "
        f"'{trained.cfg.env.name}' is neither. Its adaptation curve is in "
        f"{args.run_dir / 'eval'} (python -m metarl.evaluate)."
    )


def main(argv: list[str] | None = None) -> int:
    # Before anything imports mujoco, which reads it once: offscreen rendering, no display.
    os.environ.setdefault("MUJOCO_GL", "egl")
    args = parser().parse_args(argv)
    try:
        for path in render(args):
            print(f"Wrote {path}")
    except MetaRLError as err:
        if args.debug:
            raise
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0
