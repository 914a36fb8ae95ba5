"""``descend predict RUN_DIR INPUT --output FILE``."""

from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("predict", help="predict with a trained run",
                       description="Run a trained model on new inputs: a .npz (array 'x', or the first array) "
                                   "or a .csv of feature columns (header row; a label column named as in the "
                                   "run's config is ignored). Writes predictions (and class probabilities for "
                                   "classification) to --output, .csv or .npz.")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run folder written by `descend train`")
    p.add_argument("input", metavar="INPUT", help="inputs: .npz or .csv")
    p.add_argument("--output", "-o", required=True, metavar="FILE", help="where to write: .csv or .npz")
    p.set_defaults(handler=run)


def run(args) -> int:
    from ..app import predict_run
    path = predict_run(args.run_dir, args.input, args.output)
    print(path)
    return 0
