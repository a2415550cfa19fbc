"""Paper-protocol runs on point-goal and the table that compares them with the MAML paper.

    python benchmarks/paper_protocol.py run --algo maml --seed 1      # 500 iterations + evaluation
    python benchmarks/paper_protocol.py table runs/point-goal           # markdown table of results

`run` is train.py with the algorithm's default config (configs/<algo>/point-goal.yaml);
`table` reads every RUN_DIR/eval/adaptation.json under the given directory.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
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
    return subprocess.call(cmd, cwd=ROOT)


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
    r.add_argument("extra", nargs="*", help="more train.py arguments after --")
    t = sub.add_parser("table")
    t.add_argument("root", type=Path)
    args = parser.parse_args()
    if args.cmd == "run":
        return run(args.algo, args.seed, args.root, args.extra)
    print(table(args.root))
    return 0


if __name__ == "__main__":
    sys.exit(main())
