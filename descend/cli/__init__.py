"""The ``descend`` command line: one small module per subcommand, each a thin layer over a public function.

``main(argv=None)`` parses the arguments, runs the subcommand and returns its exit status. A problem with
the user's input (a bad config key, a missing file, data that fails validation) is printed as ONE line,
``descend: error: <reason>``, with exit status 2 — no traceback.
"""

from __future__ import annotations

import argparse
import sys

from . import compare, config, evaluate, predict, runs, train
from . import tune as tune_cmd
from . import doctor, lr_find, playground
from . import generate

SUBCOMMANDS = (train, config, evaluate, predict, runs, compare, doctor, lr_find, playground, tune_cmd, generate)

#: Exceptions that mean "bad input", reported in one line instead of a traceback.
USER_ERRORS = (ValueError, TypeError, KeyError, FileNotFoundError, FileExistsError, NotADirectoryError,
               IsADirectoryError, PermissionError)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="descend",
        description="Train deep neural networks from first principles on NumPy. "
                    "`descend train` with no arguments trains a small CNN on scikit-learn's digits.")
    from .. import __version__
    parser.add_argument("--version", action="version", version=f"descend {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in SUBCOMMANDS:
        module.add_parser(sub)
    return parser


def one_line(exc: BaseException) -> str:
    text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    text = " ".join(text.split()) or type(exc).__name__
    return text


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return int(args.handler(args) or 0)
    except USER_ERRORS as exc:
        print(f"descend: error: {one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:       # outside training (loading data, writing the report): nothing to keep
        print("descend: interrupted", file=sys.stderr)
        return 130
