"""``descend train [CONFIG.toml] [--set key=value ...] [--out DIR] [--resume DIR]``."""

from __future__ import annotations

import sys


def add_parser(sub) -> None:
    p = sub.add_parser(
        "train", help="train a model from a config (default: a small CNN on digits)",
        description="Train a model and write a run folder (config.toml, history.csv, summary.json, "
                    "checkpoints, plots/, report.html). With no arguments it trains the embedded default, a "
                    "small CNN on scikit-learn's digits. Ctrl-C stops after the last finished epoch, keeping "
                    "a resumable checkpoint; continue with --resume RUN_DIR.")
    p.add_argument("config", nargs="?", help="a TOML config file (missing keys take the defaults; see "
                                             "`descend config show`)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key (repeatable), e.g. --set optimizer.lr=0.01 --set "
                        "model.hidden=[64,32]")
    p.add_argument("--out", metavar="DIR", help="the run folder (default: runs/<YYYYmmdd-HHMMSS>-<name>)")
    p.add_argument("--resume", metavar="RUN_DIR",
                   help="continue an interrupted run from its last checkpoint (its config is reused)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=run)


def run(args) -> int:
    from ..app import run_training
    if args.resume and (args.config or args.set):
        raise ValueError("--resume continues a run with its own config.toml; drop CONFIG and --set")
    config = args.config if args.config else {}
    result = run_training(config, out=args.out, resume=args.resume, overrides=args.set,
                          progress=not args.quiet)
    s = result.summary
    metrics = ", ".join(f"{k} {s[k]:.4f}" for k in ("test_accuracy", "test_loss", "val_accuracy", "val_loss",
                                                     "test_r2", "val_r2") if isinstance(s.get(k), float))
    if result.interrupted:
        if s["epochs"] == 0 or not (result.out / "checkpoints" / "last.safetensors").is_file():
            print("interrupted before the first epoch finished; nothing to resume", file=sys.stderr)
        else:
            print(f"interrupted after epoch {s['epochs']}; resume with: descend train --resume {result.out}",
                  file=sys.stderr)
        return 130
    if s.get("diverged"):
        print(f"descend: error: training {s['divergence']}; the run folder {result.out} keeps the last good "
              f"weights. The learning rate is probably too high: find one with `descend lr-find` (same config) "
              f"or set train.clip_grad_norm = 1.0", file=sys.stderr)
        return 3
    print(f"run folder: {result.out}  ({metrics}; {s['epochs']} epochs, {s['wall_time_s']:.1f} s)")
    return 0
