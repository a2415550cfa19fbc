"""`metarl-results` (or `python -m metarl.results`): tables and figures across seeds.

    metarl-results RUN_DIR_OR_ROOT [...] [--out DIR] [--update-doc FILE.md]
    metarl-results export RUN_DIR [...] [--to docs/results]
    metarl-results by-task RUN_DIR [...] --key KEY [--bins N] [--file NAME]

The first form reports, the second copies runs' small files into a results folder to commit, the
third splits one run's held-out returns by a task parameter (e.g. direction).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from metarl.config import EVAL_TASK_SETS
from metarl.errors import MetaRLError

DEFAULT_RESULTS = Path("docs/results")


def _report_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="metarl-results",
        description="Group runs by family x algorithm x differing config keys, and write a table "
        "(markdown and CSV: held-out returns after k inner steps, mean and 95% CI across seeds, "
        "seeds, seconds per iteration) and figures (PNG and PDF: adaptation curves with the "
        "papers' points, training curves). `metarl-results export RUN_DIR ...` copies runs' "
        "small result files into a folder to commit (see --help there).",
    )
    p.add_argument(
        "paths",
        nargs="+",
        type=Path,
        metavar="PATH",
        help="run directories, or roots searched for them (e.g. runs/ or docs/results/)",
    )
    p.add_argument(
        "--out", type=Path, default=Path("results"), help="output folder (default: results/)"
    )
    p.add_argument(
        "--update-doc",
        type=Path,
        action="append",
        default=[],
        metavar="FILE.md",
        help="also replace the marked blocks of FILE.md ('<!-- metarl-results: table FAMILY "
        "-->' ... '<!-- /metarl-results -->') with the tables; repeatable",
    )
    p.add_argument(
        "--headline",
        metavar="NAME",
        help="also write one table of all the families given (in the order of the paths, the "
        "papers' rows first) to headline.md; --update-doc then fills the block "
        "'<!-- metarl-results: headline NAME -->' only, leaving the per-family blocks",
    )
    p.add_argument(
        "--tasks",
        choices=EVAL_TASK_SETS,
        default="sampled",
        help="the evaluations to report: on the held-out tasks sampled from eval.seed (default), "
        "or on the MAML paper's test tasks (metarl-evaluate RUN_DIR --tasks paper)",
    )
    p.add_argument(
        "--smooth",
        type=int,
        default=10,
        help="moving-average window of the training curves, in iterations (default: 10)",
    )
    p.add_argument(
        "--reps",
        type=int,
        default=10_000,
        help="bootstrap resamples for the table's confidence intervals (default: 10000)",
    )
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    return p


def _runs_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """A subcommand's parser over RUN_DIR arguments, with --debug."""
    p = argparse.ArgumentParser(prog=prog, description=description)
    p.add_argument("runs", nargs="+", type=Path, metavar="RUN_DIR", help="run directories")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    return p


def _export_parser() -> argparse.ArgumentParser:
    p = _runs_parser(
        "metarl-results export",
        "Copy runs' small result files (config.yaml, environment.yaml, eval/adaptation.json, a "
        "per-iteration progress.csv summary) into TO/<env>/<algo>/<run>/, a folder small enough "
        "to commit; metarl-results reads it as it reads the runs.",
    )
    p.add_argument(
        "--to",
        type=Path,
        default=DEFAULT_RESULTS,
        help=f"results folder (default: {DEFAULT_RESULTS})",
    )
    return p


def _by_task_parser() -> argparse.ArgumentParser:
    p = _runs_parser(
        "metarl-results by-task",
        "Split each run's held-out returns by a task parameter: per value of KEY (direction: -1, "
        "+1) or per equal-width bin (velocity), the mean return after k inner steps and the "
        "paired gain after one step. Reads the run's evaluation file; works on exported result "
        "folders too.",
    )
    p.add_argument("--key", required=True, help="the task parameter, e.g. direction or velocity")
    p.add_argument(
        "--bins", type=int, default=4, help="bins for a key with many values (default: 4)"
    )
    p.add_argument(
        "--file",
        metavar="NAME",
        help="the evaluation file under RUN_DIR/eval (default: adaptation.json, the final one; "
        "e.g. adaptation_iter50.json)",
    )
    return p


def by_task(args: argparse.Namespace) -> None:
    from metarl.results.by_task import by_task_table
    from metarl.results.runs import find_runs

    tables = [by_task_table(run, args.key, args.bins, args.file) for run in find_runs(args.runs)]
    print("\n\n".join(tables))


def report(args: argparse.Namespace) -> None:
    from metarl.results import report as make_report

    written, tables = make_report(
        args.paths, args.out, args.smooth, args.reps, args.update_doc, args.headline, args.tasks
    )
    for text in tables.values():
        print(text)
    print("Wrote " + ", ".join(str(p) for p in written))


def export(args: argparse.Namespace) -> None:
    from metarl.results.export import export_run
    from metarl.results.runs import find_runs

    for run_dir in find_runs(args.runs):
        print(f"{run_dir} -> {export_run(run_dir, args.to)}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    commands = {"export": (_export_parser, export), "by-task": (_by_task_parser, by_task)}
    parser, command = commands.get(argv[0] if argv else "", (_report_parser, report))
    args = parser().parse_args(argv[1:] if command is not report else argv)
    try:
        command(args)
    except MetaRLError as err:
        if args.debug:
            raise
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0
