"""Command line of train.py: parse, build from the registries, run. Errors print one paragraph."""

from __future__ import annotations

import argparse
import json
import sys
import threading
import warnings
from pathlib import Path

from metarl import interrupts, storage
from metarl.config import ALGOS, BACKENDS, CONFIGS_DIR, ConfigWarning, build_config
from metarl.config_help import help_text
from metarl.errors import ConfigError, MetaRLError
from metarl.progname import prog
from metarl.runlock import RunLock


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog("metarl-train", "metarl.cli"),
        description="Meta-train a policy with MAML, Meta-SGD, Reptile or a learned LSTM rule.",
        epilog=help_text(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--algo", choices=ALGOS, default=None, help="algorithm (default: maml)")
    p.add_argument(
        "--env",
        default=None,
        help="task family: a built-in name (point-goal, bandit), a name registered with "
        "metarl.register or an entry point, 'package.module:Class', or a Gymnasium id "
        "(default: point-goal; see docs/custom_envs.md)",
    )
    p.add_argument(
        "--config",
        default=None,
        help="YAML config (default: the shipped configs/<algo>/<env>.yaml; where metarl ships "
        "none for the pair, the generic defaults below, with a warning)",
    )
    p.add_argument(
        "--set",
        dest="overrides",
        nargs="+",
        action="extend",
        default=[],
        metavar="KEY=VALUE",
        help="override any config key, e.g. --set inner.lr=0.05 sampler.meta_batch_size=10",
    )
    p.add_argument(
        "--import",
        dest="imports",
        action="append",
        default=[],
        metavar="MODULE",
        help="import MODULE before resolving --env (a module that calls "
        "metarl.register); repeatable, saved as env.imports",
    )
    p.add_argument("--seed", type=int, default=None, help="random seed (default: 0)")
    p.add_argument("--device", default=None, help="auto | cpu | cuda | cuda:N (default: auto)")
    p.add_argument("--iterations", type=int, default=None, help="meta-iterations (default: 500)")
    p.add_argument(
        "--sampler",
        choices=BACKENDS,
        default=None,
        help="where the env workers run: local processes or Ray actors (default: local; "
        'ray needs pip install "metarl[ray]"; see docs/scaling.md)',
    )
    p.add_argument(
        "--ray-address",
        default=None,
        metavar="ADDR",
        help="with --sampler ray: join the Ray cluster at ADDR ('auto' for one started with "
        "ray start --head on this machine; default: start a local Ray instance)",
    )
    p.add_argument(
        "--resume",
        default=None,
        metavar="RUN_DIR",
        help="continue an interrupted run from its latest checkpoint (its own config; "
        "only --iterations and --device may be given with it)",
    )
    p.add_argument(
        "--track",
        action="store_true",
        default=None,
        help='also log to Weights & Biases (log.track; pip install "metarl[wandb]"; project '
        "log.wandb_project; WANDB_MODE=offline needs no network)",
    )
    p.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    return p


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """metarl's own warnings as one clean line each; others in Python's usual format."""
    from metarl.check_env import EnvCheckWarning
    from metarl.sampler import SamplerRetryWarning
    from metarl.tasks import HorizonWarning

    if issubclass(category, HorizonWarning | EnvCheckWarning | SamplerRetryWarning | ConfigWarning):
        _say(f"warning: {message}")
    else:
        _default_showwarning(message, category, filename, lineno, file, line)


_default_showwarning = warnings.showwarning


def _say(line: str) -> None:
    """One line to stderr in a single write: print() writes the text and its newline apart, so a
    background thread's line could land between them and two messages share a line."""
    sys.stderr.write(line + "\n")


def _thread_error(hook: threading.ExceptHookArgs) -> None:
    """A background thread's error as one line; the main thread reports what it means for the
    run (TensorBoard's writer thread, for one, hands its error to the next log call)."""
    thread = hook.thread.name if hook.thread is not None else "?"
    _say(f"warning: background thread {thread}: {hook.exc_type.__name__}: {hook.exc_value}")


def main(argv: list[str] | None = None) -> int:
    # Signals first: a SIGTERM while the command line is read or torch is imported is a start-up
    # one (interrupts.py); train() reports its own, so one that reaches here found nothing written.
    with interrupts.handling():
        try:
            return _main(argv)
        except interrupts.Abandoned as err:
            _say(f"Stopped by {interrupts.name(err.signum)} during {err.phase}: nothing was saved.")
            return interrupts.exit_code(err.signum)


def _main(argv: list[str] | None) -> int:
    warnings.showwarning = _show_warning
    # As `python -m` does: modules in the current directory can be named by --env / --import.
    if "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    args = parser().parse_args(argv)
    previous_hook = threading.excepthook
    if not args.debug:
        threading.excepthook = _thread_error
    overrides = list(args.overrides)
    for key, value in (
        ("seed", args.seed),
        ("device", args.device),
        ("iterations", args.iterations),
        ("sampler.backend", args.sampler),
        ("log.track", args.track and "true"),
    ):
        if value is not None:
            overrides.append(f"{key}={value}")
    if args.ray_address is not None:  # quoted: YAML would read e.g. 10:30 as a number
        overrides.append(f"sampler.ray_address={json.dumps(args.ray_address)}")
    if args.imports:
        overrides.append(f"env.imports={args.imports!r}")
    try:
        from metarl.trainer import load_for_resume, train

        if args.resume is not None:
            names = ("algo", "env", "config", "seed", "sampler", "ray_address")
            fixed = [f"--{n.replace('_', '-')}" for n in names if getattr(args, n) is not None] + (
                ["--import"] if args.imports else []
            )
            if fixed or args.overrides:
                raise ConfigError(
                    f"--resume continues a run with its own config; {', '.join(fixed) or '--set'} "
                    "cannot be combined with it (only --iterations and --device can)."
                )
            run_dir = Path(args.resume)
            with RunLock(run_dir, "training (resume)"):  # before reading: no writer prunes it
                cfg, state = load_for_resume(run_dir, args.iterations, args.device)
                train(cfg, run_dir, state)
        else:
            train(build_config(args.algo, args.env, args.config, overrides, CONFIGS_DIR))
    except interrupts.Interrupted as err:
        _say(str(err))
        return interrupts.exit_code(err.signum)
    except MetaRLError as err:
        if args.debug:
            raise
        _say(f"error: {err}")
        return 2
    except OSError as err:  # a disk that is full or read-only where no caller expected it
        if args.debug or not storage.is_storage_fault(err):
            raise
        _say(f"error: {storage.fault_error(Path(err.filename or '.'), err)}")
        return 2
    finally:
        threading.excepthook = previous_hook
    return 0
