"""``descend predict RUN_DIR INPUT --output FILE``."""

from __future__ import annotations

#: Inputs from which ``descend predict`` shows progress (smaller inputs finish in well under a second).
PROGRESS_FROM = 20000


def add_parser(sub) -> None:
    p = sub.add_parser("predict", help="predict with a trained run",
                       description="Run a trained model on new inputs: a .npz (array 'x', or the first array) "
                                   "or a .csv of feature columns (header row; a label column named as in the "
                                   "run's config is ignored). Writes predictions (and class probabilities for "
                                   "classification) to --output, .csv or .npz. A language-model run (trained on "
                                   "a text file) reads a text file or --prompt TEXT and writes, for every "
                                   "character, the likeliest next character and the probability of the actual "
                                   "one; it prints the text's loss in nats and bits per character.")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run folder written by `descend train`")
    p.add_argument("input", metavar="INPUT", nargs="?", default=None,
                   help="inputs: .npz or .csv (a .txt file for a language-model run)")
    p.add_argument("--prompt", default=None, metavar="TEXT",
                   help="language-model runs: the text to predict on, instead of INPUT")
    p.add_argument("--output", "-o", required=True, metavar="FILE", help="where to write: .csv or .npz")
    p.add_argument("--no-progress", action="store_true", help="no progress line on stderr (shown from "
                   f"{PROGRESS_FROM} inputs on)")
    p.set_defaults(handler=run)


def _progress(total):
    from .progress import Progress
    return Progress(total, "predict: inputs") if total >= PROGRESS_FROM else None


def run(args) -> int:
    from ..app import load_run, predict_run
    if load_run(args.run_dir)[2]["task"] == "language-model":
        from ..app.predict_text import predict_text
        path, summary = predict_text(args.run_dir, args.input, args.output, args.prompt)
        print(path)
        if summary["loss"] is not None:
            print(f"{summary['characters']} characters: {summary['loss']:.4f} nats/char, "
                  f"{summary['bits_per_char']:.4f} bits/char")
        return 0
    path = predict_run(args.run_dir, args.input, args.output, progress=None if args.no_progress else _progress,
                       prompt=args.prompt)
    print(path)
    return 0
