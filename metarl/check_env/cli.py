"""The command line: python -m metarl.check_env SPEC."""

from __future__ import annotations

import argparse
import sys
import traceback
import warnings

from metarl.check_env.checker import check_family
from metarl.check_env.helpers import located
from metarl.errors import MetaRLError
from metarl.progname import prog
from metarl.tasks import make_family


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=prog("metarl-check-env", "metarl.check_env"),
        # The package is imported before its modules: its docstring, without importing it back.
        description=sys.modules["metarl.check_env"].__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Exit status: 0 usable (warnings allowed unless --strict), 1 errors found, "
        "2 the env could not be resolved or built.",
    )
    parser.add_argument("env", help="built-in name, 'package.module:Class' or a Gymnasium id")
    parser.add_argument(
        "--horizon",
        type=int,
        default=None,
        help="episode length, for envs without a Gymnasium registration",
    )
    parser.add_argument(
        "--import",
        dest="imports",
        action="append",
        default=[],
        metavar="MODULE",
        help="import MODULE first (a module that calls metarl.register); repeatable",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 on warnings too")
    parser.add_argument(
        "--debug", action="store_true", help="print the tracebacks of exceptions raised by the env"
    )
    args = parser.parse_args(argv)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            family = make_family(args.env, args.horizon, args.imports)
        except MetaRLError as err:
            if args.debug and err.__cause__ is not None:
                traceback.print_exception(err.__cause__)  # what the user's code raised
            print(f"error: {err}", file=sys.stderr)
            return 2
        except Exception as err:  # the user's module or constructor raised while resolving
            if args.debug:
                traceback.print_exc()
            print(
                f"error: Resolving env '{args.env}' raised {type(err).__name__}: {err}"
                f"{located(err)}. Expected the module to import and the env to build without "
                "arguments. Fix the error at that line (--debug prints the traceback).",
                file=sys.stderr,
            )
            return 2
    print(f"Checking {args.env} (horizon {family.horizon})", flush=True)
    report = check_family(family, raise_on_error=False)
    report.warnings[:0] = [
        str(w.message) for w in caught if not isinstance(w.message, DeprecationWarning)
    ]
    if args.debug:
        for text in report.tracebacks:
            print(text, file=sys.stderr)
    print(report.text())
    print(report.summary())
    return 1 if report.errors or (args.strict and report.warnings) else 0
