"""The ``descend`` command line: one small module per subcommand, each a thin layer over a public function.

``main(argv=None)`` parses the arguments, runs the subcommand and returns its exit status. Every failure is
printed as ONE line, ``descend: error: <reason>``, with a documented exit status (2 bad input, 3 diverged,
4 I/O or disk, 130 interrupted, 1 internal error with the traceback written to a log) — no traceback;
``descend --debug COMMAND`` shows it. The mapping lives in :mod:`descend.cli.errors`.
"""

from __future__ import annotations

import argparse
import warnings

from . import compare, config, evaluate, predict, runs, train
from . import tune as tune_cmd
from . import doctor, export, generate, lr_find, playground
from ..data.validate import DataWarning
from .errors import BAD_INPUT, cli_environment, one_line, report_failure  # noqa: F401 (one_line: public)

SUBCOMMANDS = (train, config, evaluate, predict, runs, compare, doctor, lr_find, playground, tune_cmd, export,
               generate)

#: Exceptions that mean "bad input", reported in one line instead of a traceback (exit status 2).
USER_ERRORS = BAD_INPUT


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="descend",
        description="Train deep neural networks from first principles on NumPy. "
                    "`descend train` with no arguments trains a small CNN on scikit-learn's digits.")
    from .. import __version__
    parser.add_argument("--version", action="version", version=f"descend {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="let errors through with their full traceback instead of one line")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in SUBCOMMANDS:
        module.add_parser(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    with cli_environment(), warnings.catch_warnings():
        warnings.simplefilter("always", DataWarning)     # every label decision is printed, every time
        try:
            return int(args.handler(args) or 0)
        except BaseException as exc:        # SystemExit (a subcommand's own argparse error) passes through
            if isinstance(exc, SystemExit) or args.debug:
                raise
            return report_failure(exc)
