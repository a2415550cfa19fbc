"""Few-shot sine regression runs and the table that compares them with the papers.

    python benchmarks/sine_protocol.py run --algo meta-sgd --shots 10   # train.py + evaluation
    python benchmarks/sine_protocol.py untrained --shots 10             # the untrained network
    python benchmarks/sine_protocol.py record RUN_DIR                   # an existing run
    python benchmarks/sine_protocol.py table docs/results/sine          # markdown tables

`run` is train.py with configs/<algo>/sine.yaml and supervised.shots=K (the network is trained
and evaluated with the same K, as in the papers); it writes a small JSON summary (the held-out
MSE after k = 0..10 steps for every evaluated K, the command, the commit, wall and CPU seconds)
to --out. `untrained` evaluates a freshly initialised network adapted by plain gradient descent
with the config's inner lr. `table` reads every summary under a directory.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Li et al. 2017 ("Meta-SGD: Learning to Learn Quickly for Few-Shot Learning"), Table 1: sine
# regression MSE after one step with 95% confidence intervals. Only its 5-shot column could be
# read in the material available when this was written; the 10- and 20-shot cells are left empty
# rather than quoted from memory.
PAPER = {
    "Meta-SGD paper: MAML": {"5": "1.13 ± 0.18", "10": None, "20": None},
    "Meta-SGD paper: Meta-SGD": {"5": "0.90 ± 0.16", "10": None, "20": None},
}
ALGOS = ["maml", "meta-sgd", "reptile", "meta-lstm"]


def git_revision() -> str:
    out = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    )
    return out.stdout.strip() or "unknown"


def summary(result: dict) -> dict:
    """The evaluation without its per-task values (they stay in the run directory)."""
    return {
        shots: {
            "mean": entry["loss"]["mean"],
            "ci95": entry["loss"]["ci95"],
        }
        for shots, entry in result["shots"].items()
    }


def run(algo: str, shots: int, seed: int, root: str, out: Path, extra: list[str]) -> int:
    cmd = [
        sys.executable,
        str(ROOT / "train.py"),
        "--algo",
        algo,
        "--env",
        "sine",
        "--seed",
        str(seed),
        "--set",
        f"supervised.shots={shots}",
        f"log.root={root}",
        *extra,
    ]
    print("$", " ".join(cmd), flush=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(proc.stdout[-3000:], proc.stderr[-3000:], sep="\n", flush=True)
    if proc.returncode != 0:
        return proc.returncode
    run_dir = Path(proc.stdout.strip().splitlines()[-1].split(" are in ")[-1])
    result = json.loads((run_dir / "eval" / "adaptation.json").read_text())
    record = {
        "algo": algo,
        "env": "sine",
        "train_shots": shots,
        "seed": seed,
        "iterations": result["iteration"],
        "commit": git_revision(),
        "command": " ".join(["python", *cmd[1:]]).replace(str(ROOT) + "/", ""),
        "wall_s": round(wall, 1),
        "cpu_s": round((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), 1),
        "num_tasks": result["num_tasks"],
        "query": result["query"],
        "steps": result["steps"],
        "mse": summary(result),
    }
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{algo}-K{shots}-s{seed}.json"
    path.write_text(json.dumps(record, indent=1))
    print(f"wrote {path}")
    return 0


def record_run(run_dir: Path, out: Path, name: str) -> int:
    """The summary of an existing run directory (its config and eval/adaptation.json)."""
    import yaml

    cfg = yaml.safe_load((run_dir / "config.yaml").read_text())
    env = yaml.safe_load((run_dir / "environment.yaml").read_text())
    result = json.loads((run_dir / "eval" / "adaptation.json").read_text())
    record = {
        "algo": cfg["algo"],
        "commit": str(env.get("git_revision", "unknown"))[:7],
        "command": "python " + " ".join(str(env.get("command", "")).split()),
        "env": cfg["env"]["name"],
        "train_shots": cfg["supervised"]["shots"],
        "seed": cfg["seed"],
        "iterations": result["iteration"],
        "inner": {k: cfg["inner"][k] for k in ("lr", "steps")},
        "outer": {k: cfg["outer"].get(k) for k in ("optimizer", "lr", "rule_lr")},
        "run_dir": run_dir.name,
        "num_tasks": result["num_tasks"],
        "query": result["query"],
        "steps": result["steps"],
        "mse": summary(result),
    }
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.json"
    path.write_text(json.dumps(record, indent=1))
    print(f"wrote {path}")
    return 0


def untrained(shots: int, seed: int, out: Path) -> int:
    """A freshly initialised network (configs/maml/sine.yaml, the given seed), adapted by plain
    gradient descent with step inner.lr: what meta-training starts from."""
    from metarl.build import build
    from metarl.cli import CONFIGS_DIR
    from metarl.config import build_config
    from metarl.evaluate_supervised import evaluate_supervised
    from metarl.update_rules import FixedStep

    cfg = build_config(
        "maml", "sine", None, [f"seed={seed}", f"supervised.shots={shots}"], CONFIGS_DIR
    )
    run_ = build(cfg)
    result = evaluate_supervised(
        run_.family,
        run_.policy,
        run_.policy.params(),
        FixedStep(cfg.inner.lr),
        cfg,
        cfg.eval.num_tasks,
        cfg.eval.steps,
    )
    record = {
        "algo": "untrained",
        "env": "sine",
        "train_shots": shots,
        "seed": seed,
        "iterations": 0,
        "commit": git_revision(),
        "command": f"python benchmarks/sine_protocol.py untrained --shots {shots} --seed {seed}",
        "num_tasks": result["num_tasks"],
        "query": result["query"],
        "steps": result["steps"],
        "mse": summary(result),
    }
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"untrained-K{shots}-s{seed}.json"
    path.write_text(json.dumps(record, indent=1))
    print(f"wrote {path}")
    return 0


def _cell(record: dict, shots: str, k: int) -> str:
    entry = record["mse"].get(shots)
    if entry is None:
        return "–"
    mean, ci = entry["mean"][k], entry["ci95"][k]
    if mean is None or not math.isfinite(mean):  # null: some task's adaptation blew up
        return "diverged"
    if mean > 100:
        return f"{mean:.1e} (diverged)"
    return f"{mean:.3f} ± {ci:.3f}"


def table(directory: Path) -> str:
    records = [json.loads(p.read_text()) for p in sorted(directory.glob("*.json"))]
    order = {name: i for i, name in enumerate(["untrained", *ALGOS])}
    records.sort(key=lambda r: (order.get(r["algo"], 99), r["seed"], r["train_shots"]))
    lines = [
        "One step (k = 1), each network trained and evaluated with the same K:",
        "",
        "| source | K = 5 | K = 10 | K = 20 |",
        "|---|---|---|---|",
    ]
    for name, cells in PAPER.items():
        lines.append(f"| {name} | " + " | ".join(cells[k] or "–" for k in ("5", "10", "20")) + " |")
    by_algo: dict[tuple[str, int], dict[str, str]] = {}
    for r in records:
        key = (r["algo"], r["seed"])
        by_algo.setdefault(key, {})[str(r["train_shots"])] = _cell(r, str(r["train_shots"]), 1)
    for (algo, seed), cells in by_algo.items():
        lines.append(
            f"| metarl {algo} (seed {seed}) | "
            + " | ".join(cells.get(k, "–") for k in ("5", "10", "20"))
            + " |"
        )
    lines += [
        "",
        "Adaptation curve of the K = 10 networks (held-out MSE after k steps):",
        "",
        "| run | " + " | ".join(f"k = {k}" for k in (0, 1, 2, 3, 5, 10)) + " | wall s | CPU s |",
        "|---|" + "---|" * 8,
    ]
    for r in records:
        if r["train_shots"] != 10:
            continue
        cells = [_cell(r, "10", k) for k in (0, 1, 2, 3, 5, 10)]
        lines.append(
            f"| {r['algo']} (seed {r['seed']}, {r['iterations']} it.) | "
            + " | ".join(cells)
            + f" | {r.get('wall_s', '–')} | {r.get('cpu_s', '–')} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--algo", required=True, choices=ALGOS)
    r.add_argument("--shots", type=int, default=10)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--root", default="runs")
    r.add_argument("--out", type=Path, default=ROOT / "docs" / "results" / "sine")
    r.add_argument("extra", nargs="*", help="more train.py arguments after --")
    u = sub.add_parser("untrained")
    u.add_argument("--shots", type=int, default=10)
    u.add_argument("--seed", type=int, default=0)
    u.add_argument("--out", type=Path, default=ROOT / "docs" / "results" / "sine")
    c = sub.add_parser("record")
    c.add_argument("run_dir", type=Path)
    c.add_argument("--name", required=True, help="file name (without .json) under --out")
    c.add_argument("--out", type=Path, default=ROOT / "docs" / "results" / "sine")
    t = sub.add_parser("table")
    t.add_argument("directory", type=Path)
    args = parser.parse_args()
    if args.cmd == "run":
        return run(args.algo, args.shots, args.seed, args.root, args.out, args.extra)
    if args.cmd == "record":
        return record_run(args.run_dir, args.out, args.name)
    if args.cmd == "untrained":
        return untrained(args.shots, args.seed, args.out)
    print(table(args.directory))
    return 0


if __name__ == "__main__":
    sys.exit(main())
