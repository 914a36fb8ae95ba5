"""``descend evaluate RUN_DIR [--data PATH_OR_NAME] [--split test|val|train]``."""

from __future__ import annotations

import json


def add_parser(sub) -> None:
    p = sub.add_parser("evaluate", help="evaluate a trained run on its test split or other data",
                       description="Load a run's final model and report its loss and metrics on a split of its "
                                   "own data, or on another data set (--data: a built-in name, .npz, .csv or "
                                   "IDX folder). Prints JSON.")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run folder written by `descend train`")
    p.add_argument("--data", metavar="NAME_OR_PATH", help="evaluate on this data instead of the run's own")
    p.add_argument("--split", default="test", choices=("test", "val", "train"),
                   help="which split to evaluate (default: test)")
    p.set_defaults(handler=run)


def run(args) -> int:
    from ..app import evaluate_run
    print(json.dumps(evaluate_run(args.run_dir, data=args.data, split=args.split), indent=2))
    return 0
