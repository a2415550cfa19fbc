"""Meta-World runs as data: summarise a run into a small JSON, and the JSONs into docs' table.

    python benchmarks/meta_world.py summarize RUN_DIR docs/results/metaworld/ml1_reach-v3.json
    python benchmarks/meta_world.py table docs/results/metaworld/*.json

A summary holds the run's command settings, its training curve per iteration (returns and success
rates before and after adaptation, seconds per iteration) and its held-out evaluation
(eval/adaptation.json: success rate and return after k inner steps, 95% intervals over tasks).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import yaml
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

TAGS = (
    "returns/pre_adapt",
    "returns/post_adapt",
    "success/pre_adapt",
    "success/post_adapt",
    "time/iteration",
)


def summarize(run_dir: Path, commit: str | None = None) -> dict:
    """`commit`: the code's revision when the run could not record it (run from an export)."""
    acc = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    acc.Reload()
    curves = {tag: [e.value for e in acc.Scalars(tag)] for tag in TAGS}
    cfg = yaml.safe_load((run_dir / "config.yaml").read_text())
    env = yaml.safe_load((run_dir / "environment.yaml").read_text())
    evaluation = json.loads((run_dir / "eval" / "adaptation.json").read_text())
    keep = ("steps", "mean_return", "ci95", "success_rate", "success_ci95", "num_tasks")
    return {
        "env": cfg["env"]["name"],
        "algo": cfg["algo"],
        "seed": cfg["seed"],
        "iterations": len(curves["time/iteration"]),
        "meta_batch_size": cfg["sampler"]["meta_batch_size"],
        "episodes_per_task": cfg["sampler"]["episodes_per_task"],
        "num_workers": cfg["sampler"]["num_workers"],
        "horizon": cfg["env"]["horizon"],
        "git": commit or env.get("git_revision"),
        "train": curves,
        "eval": {k: evaluation[k] for k in keep} | {"episodes": evaluation["episodes_per_task"]},
    }


def table(paths: list[Path]) -> str:
    rows = [
        "| family | iterations | s / iteration (median) | train success pre → post (last 5 it.) "
        "| held-out success k = 0 | k = 1 | held-out return k = 0 | k = 1 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for path in paths:
        s = json.loads(path.read_text())
        train, ev = s["train"], s["eval"]
        last = slice(-5, None)
        pre = statistics.mean(train["success/pre_adapt"][last])
        post = statistics.mean(train["success/post_adapt"][last])
        success = [f"{r:.1%} ± {c:.1%}" for r, c in zip(ev["success_rate"], ev["success_ci95"])]
        returns = [f"{m:.0f} ± {c:.0f}" for m, c in zip(ev["mean_return"], ev["ci95"])]
        seconds = statistics.median(train["time/iteration"])
        rows.append(
            f"| `{s['env']}` | {s['iterations']} | {seconds:.0f} "
            f"| {pre:.1%} → {post:.1%} | {success[0]} | {success[1]} | {returns[0]} "
            f"| {returns[1]} |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("summarize", help="one run directory -> one JSON file")
    s.add_argument("run_dir", type=Path)
    s.add_argument("out", type=Path)
    s.add_argument("--commit", help="the code's git revision, if the run recorded none")
    t = sub.add_parser("table", help="summary JSON files -> the markdown table")
    t.add_argument("files", type=Path, nargs="+")
    args = parser.parse_args(argv)
    if args.command == "summarize":
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(summarize(args.run_dir, args.commit), indent=1) + "\n")
    else:
        print(table(args.files))
    return 0


if __name__ == "__main__":
    sys.exit(main())
