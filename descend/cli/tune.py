"""``descend tune CONFIG.toml [--trials N] [--timeout S] [--workers W] [--storage URL] [--out DIR]``."""

from __future__ import annotations

import sys


def add_parser(sub) -> None:
    p = sub.add_parser(
        "tune", help="search hyperparameters with Optuna over the config's [tune.space]",
        description="Run a hyperparameter study: the config's [tune] table names the method (grid, random, "
                    "bayesian, gp), the validation metric, the pruner and the search space over any config "
                    "key. Writes trials.csv, best.toml (retrain with `descend train best.toml`), plots/ and "
                    "report.html to the tuning folder; each trial's run folder is kept under trials/. Run the "
                    "same command again with the same --out to resume an interrupted study.")
    p.add_argument("config", help="a TOML config with a [tune] table and a [tune.space]")
    p.add_argument("--trials", type=int, metavar="N", help="finished trials the study should hold "
                                                           "(default: tune.trials)")
    p.add_argument("--timeout", type=float, metavar="S", help="stop starting trials after S seconds")
    p.add_argument("--workers", type=int, metavar="W", help="parallel worker processes on this machine")
    p.add_argument("--storage", metavar="URL", help="a database URL Optuna supports, e.g. "
                   "postgresql://user:pw@host/db (workers on several machines join one study); default: a "
                   "journal file in the tuning folder")
    p.add_argument("--out", metavar="DIR", help="the tuning folder (default: runs/tune-<YYYYmmdd-HHMMSS>)")
    p.add_argument("--method", choices=("grid", "random", "bayesian", "gp"), help="override tune.method")
    p.add_argument("--study-name", metavar="NAME", help="override tune.study_name (join a named study)")
    p.add_argument("--verbose", action="store_true", help="show Optuna's own log lines (off by default)")
    p.add_argument("--no-progress", action="store_true", help="no trial progress line on stderr")
    p.set_defaults(handler=run)


def run(args) -> int:
    import optuna

    from ..tune import run_study
    from ..tune.results import format_table
    from .progress import Progress
    if not args.verbose:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
    progress = None if args.no_progress else (lambda total: Progress(total, "tune: trial"))
    result = run_study(args.config, trials=args.trials, timeout=args.timeout, workers=args.workers,
                       storage=args.storage, out=args.out, method=args.method, study_name=args.study_name,
                       progress=progress)
    import csv
    with open(result.out / "trials.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    print(format_table(rows))
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    counts = ", ".join(f"{v} {k.lower()}" for k, v in sorted(result.counts.items()))
    if result.best_value is None:
        print(f"no trial completed ({counts}); tuning folder: {result.out}", file=sys.stderr)
        return 1
    print(f"best trial {result.best_trial}: {result.metric} {result.best_value:.6g} "
          f"{result.best_params}  ({counts})")
    print(f"tuning folder: {result.out}  (retrain the best: descend train {result.out / 'best.toml'})")
    return 0
