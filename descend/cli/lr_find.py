"""``descend lr-find [CONFIG.toml] [--set key=value ...] [--out DIR]``: the learning-rate range test."""

from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("lr-find", help="learning-rate range test: sweep the rate, plot the loss, suggest a rate",
                       description="Build the model, optimiser and data of a config, raise the learning rate "
                                   "exponentially from --start to --end over --steps batches, stop when the "
                                   "smoothed loss exceeds 4x its best, and suggest a rate (steepest descent of "
                                   "the smoothed loss, or a tenth of the rate at its minimum). Writes "
                                   "lr_find.png and lr_find.json to --out (default runs/lr-find-<time>).")
    p.add_argument("config", nargs="?", help="a TOML config file (default: the `descend train` default)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key")
    p.add_argument("--out", metavar="DIR", help="output folder (default: runs/lr-find-<YYYYmmdd-HHMMSS>)")
    p.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
    p.add_argument("--steps", type=int, default=200, help="number of batches in the sweep (default 200)")
    p.add_argument("--start", type=float, default=1e-7, help="first learning rate (default 1e-7)")
    p.add_argument("--end", type=float, default=10.0, help="last learning rate (default 10)")
    p.add_argument("--rule", choices=("steepest", "min_tenth"), default="steepest",
                   help="suggestion rule (default: steepest)")
    p.set_defaults(handler=run)


def default_out(kind: str, root="runs"):
    """``runs/<kind>-<YYYYmmdd-HHMMSS>`` (``-2``, ``-3``... when taken)."""
    from datetime import datetime
    from pathlib import Path

    from ..io import unused_path
    return unused_path(Path(root) / f"{kind}-{datetime.now():%Y%m%d-%H%M%S}")


def run(args) -> int:
    from pathlib import Path

    from .errors import output_folder
    from ..app import lr_find_config
    from .progress import Progress
    args.out = args.out or str(default_out("lr-find"))
    progress = None if args.no_progress else Progress(args.steps, "lr-find: batch")
    with output_folder(args.out):
        result = lr_find_config(args.config or {}, args.set, out=args.out, num_steps=args.steps,
                                start_lr=args.start, end_lr=args.end, rule=args.rule, progress=progress)
    print(f"suggested learning rate: {result.suggestion:.3g} (rule: {result.rule}; {len(result.lrs)} steps"
          f"{', stopped at 4x the best loss' if result.stopped_early else ''})")
    print(f"plot: {Path(args.out) / 'lr_find.png'}  -- use it with --set optimizer.lr={result.suggestion:.3g}")
    return 0
