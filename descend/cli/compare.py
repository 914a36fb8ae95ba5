"""``descend compare RUN_DIR... [--output PNG]``: overlay several runs' curves in one PNG."""

from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("compare", help="overlay the curves of several runs in one PNG",
                       description="Overlay the training (solid) and validation (dashed) curves of a history "
                                   "column of several runs in one PNG, one colour per run labelled by its "
                                   "config name (else its folder's name), and print the PNG's path.")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run folders to compare")
    p.add_argument("--output", "-o", metavar="PNG", help="where to write the PNG (default: compare.png in "
                                                         "the first run's parent folder)")
    p.add_argument("--metric", default="loss", help="the history column to overlay, with its val_ twin when "
                                                    "recorded (default: loss; e.g. accuracy, or val_accuracy "
                                                    "alone)")
    p.set_defaults(handler=run)


def run(args) -> int:
    from ..app import compare_runs
    print(compare_runs(args.run_dirs, output=args.output, metric=args.metric))
    return 0
