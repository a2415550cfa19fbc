"""Paper-protocol runs on point-goal and the table that compares them with the MAML paper.

    python benchmarks/paper_protocol.py run --algo maml --seed 1      # 500 iterations + evaluation
    python benchmarks/paper_protocol.py run --algo meta-sgd --json r.json -- --device cuda
    python benchmarks/paper_protocol.py table runs/point-goal           # markdown table of results
    python benchmarks/paper_protocol.py summary RUN_DIR --json s.json   # one run as JSON

`run` is train.py with the algorithm's default config (configs/<algo>/point-goal.yaml); Ctrl-C
(SIGINT) reaches train.py, which stops after the current iteration with a checkpoint. With
`--json` it writes the run's summary and the command's wall-clock time. `table` reads every
RUN_DIR/eval/adaptation.json under the given directory. `summary` gives a run's iteration times
(the `time/*` TensorBoard scalars), its training curve and its held-out adaptation curve.
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
# MAML paper (Finn et al. 2017), Table/Fig. for 2D navigation; Meta-SGD paper (Li et al. 2017),
# its own protocol, reports the return after one step only.
REFERENCE = {
    "MAML paper: MAML": [-40.41, -11.68, -3.33, -3.23],
    "Meta-SGD paper: Meta-SGD (own protocol)": [None, -8.64, None, None],
}


def run(algo: str, seed: int, root: str, extra: list[str]) -> int:
    cmd = [
        sys.executable,
        str(ROOT / "train.py"),
        "--algo",
        algo,
        "--env",
        "point-goal",
        "--seed",
        str(seed),
        "--set",
        f"log.root={root}",
        *extra,
    ]
    print("$", " ".join(cmd), flush=True)
    child = subprocess.Popen(cmd, cwd=ROOT)
    # A SIGINT to the process group (Ctrl-C) reaches train.py, which stops after the current
    # iteration with a checkpoint; this wrapper waits for that instead of killing it.
    previous = signal.signal(signal.SIGINT, lambda signum, frame: None)
    try:
        return child.wait()
    finally:
        signal.signal(signal.SIGINT, previous)


def latest_run_dir(root: Path, algo: str) -> Path | None:
    """The newest run directory of `algo` on point-goal under `root`, if any."""
    runs = sorted((Path(root) / "point-goal" / algo).glob("*/config.yaml"))
    return max(runs, key=lambda p: p.stat().st_mtime).parent if runs else None


def summary(run_dir: Path) -> dict:
    """A run's iteration times, training curve and held-out adaptation curve, from its
    TensorBoard events and eval/adaptation.json (None where the run has no evaluation yet)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    events.Reload()

    def curve(tag: str) -> list[float]:
        if tag not in events.Tags()["scalars"]:
            return []
        return [e.value for e in sorted(events.Scalars(tag), key=lambda e: e.step)]

    cfg = yaml.safe_load((run_dir / "config.yaml").read_text())
    env_path = run_dir / "environment.yaml"
    environment = yaml.safe_load(env_path.read_text()) if env_path.exists() else {}
    times = curve("time/iteration")
    adaptation = None
    eval_path = run_dir / "eval" / "adaptation.json"
    if eval_path.exists():
        full = json.loads(eval_path.read_text())
        keys = ("steps", "mean_return", "ci95", "num_tasks", "episodes_per_task", "iteration")
        adaptation = {k: full[k] for k in keys}
    return {
        "run_dir": str(run_dir),
        "algo": cfg["algo"],
        "env": cfg["env"]["name"],
        "seed": cfg["seed"],
        "device": environment.get("device"),
        "iterations_planned": cfg["iterations"],
        "iterations_done": len(times),
        "loop_s": sum(times),
        "s_per_iteration_median": statistics.median(times) if times else None,
        "split_total_s": {
            phase: sum(curve(f"time/{phase}")) for phase in ("sampling", "adaptation", "update")
        },
        "training_curve": {
            "pre_adapt": curve("returns/pre_adapt"),
            "post_adapt": curve("returns/post_adapt"),
        },
        "adaptation": adaptation,
    }


def _fmt(mean, ci=None) -> str:
    if mean is None:
        return "–"
    return f"{mean:.2f}" if ci is None else f"{mean:.2f} ± {ci:.2f}"


def table(root: Path) -> str:
    rows = ["| source | iterations | k = 0 | k = 1 | k = 2 | k = 3 |", "|---|---|---|---|---|---|"]
    for name, values in REFERENCE.items():
        rows.append(f"| {name} | 500 | " + " | ".join(_fmt(v) for v in values) + " |")
    for path in sorted(root.rglob("eval/adaptation.json")):
        result = json.loads(path.read_text())
        run_dir = path.parent.parent
        cfg = yaml.safe_load((run_dir / "config.yaml").read_text())
        cells = [_fmt(m, c) for m, c in zip(result["mean_return"], result["ci95"])]
        rows.append(
            f"| metarl {result['algo']} (seed {cfg['seed']}) | {result['iteration']} | "
            + " | ".join(cells)
            + " |"
        )
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--algo", required=True, choices=["maml", "meta-sgd", "reptile", "meta-lstm"])
    r.add_argument("--seed", type=int, default=1)
    r.add_argument("--root", default="runs")
    r.add_argument("--json", default=None, help="write the run's summary and wall time here")
    r.add_argument("extra", nargs="*", help="more train.py arguments after --")
    t = sub.add_parser("table")
    t.add_argument("root", type=Path)
    sm = sub.add_parser("summary")
    sm.add_argument("run_dir", type=Path)
    sm.add_argument("--json", default=None, help="also write the summary to this file")
    args = parser.parse_args()
    if args.cmd == "run":
        start = time.perf_counter()
        code = run(args.algo, args.seed, args.root, args.extra)
        wall = time.perf_counter() - start
        if args.json:
            run_dir = latest_run_dir(Path(args.root), args.algo)
            result = summary(run_dir) if run_dir else {"run_dir": None}
            result.update(command_wall_s=wall, exit_code=code)
            Path(args.json).write_text(json.dumps(result, indent=2))
        return code
    if args.cmd == "summary":
        result = summary(args.run_dir)
        text = json.dumps(result, indent=2)
        if args.json:
            Path(args.json).write_text(text)
        print(text)
        return 0
    print(table(args.root))
    return 0


if __name__ == "__main__":
    sys.exit(main())
