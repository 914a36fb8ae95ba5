"""``python -m descend.bench``: parse the options, run, print the table, write Markdown and JSON."""

from __future__ import annotations

import argparse
import json
import os

DEFAULT_OUT = os.path.join("runs", "bench")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m descend.bench",
                                description="Benchmark descend against PyTorch on the same workloads.")
    p.add_argument("--workloads", default=None,
                   help="comma-separated: W1,W2,W3,W4,W5 (W5 = W5-mlp and W5-cnn), W6 (LSTM), "
                        "W7 (Transformer encoder), W8 (CIFAR CNN), W9 (LayerNorm+GELU MLP), W10 (ResNet), "
                        "SWEEP (batch-size sweep S-mlp-B, S-cnn-B); default all")
    p.add_argument("--steps", type=int, default=None, help="timed steps per run (default: per workload)")
    p.add_argument("--repeat", type=int, default=5, help="timed runs per framework; the best is reported (default 5)")
    p.add_argument("--warmup", type=int, default=5, help="untimed steps before timing")
    p.add_argument("--threads", type=int, default=None,
                   help="limit NumPy's BLAS and torch to this many threads (default: NumPy's BLAS threads)")
    p.add_argument("--check-steps", type=int, default=20, help="training steps of the correctness check")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    p.add_argument("--out", default=DEFAULT_OUT, help=f"folder for results.md and results.json (default {DEFAULT_OUT})")
    p.add_argument("--child", nargs=4, metavar=("WORKLOAD", "FRAMEWORK", "STEPS", "THREADS"),
                   help=argparse.SUPPRESS)  # internal: one peak-memory measurement
    return p


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    if args.child:
        from .measure import child_main
        name, framework, steps, threads = args.child
        print(json.dumps(child_main(name, framework, int(steps), int(threads))))
        return 0
    from .report import markdown_table, write_results
    from .runner import run_benchmarks
    try:
        results = run_benchmarks(args.workloads, steps=args.steps, repeat=args.repeat, warmup=args.warmup,
                                 memory=not args.no_memory, check_steps=args.check_steps, threads=args.threads)
    except ValueError as e:
        _parser().error(str(e))
    print()
    print(markdown_table(results))
    md, js = write_results(results, args.out)
    print(f"wrote {md} and {js} ({results['elapsed_s']:.0f} s)")
    return 0 if all(w["check"]["passed"] for w in results["workloads"]) else 1
