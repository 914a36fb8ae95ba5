"""``descend playground [--out DIR] [--steps N]``: optimiser trajectories on 2-D test surfaces."""

from __future__ import annotations

from ..app.playground import OPTIMIZERS


def _labels() -> str:
    labels = list(OPTIMIZERS)
    return ", ".join(labels[:-1]) + " and " + labels[-1] if len(labels) > 1 else "".join(labels)


def add_parser(sub) -> None:
    p = sub.add_parser("playground", help=f"draw {_labels()} on 2-D surfaces",
                       description="Run descend's optimisers on a ravine, Rosenbrock, a saddle and Beale's "
                                   "function and write contour plots with the trajectories, loss curves, "
                                   "index.html and results.json.")
    p.add_argument("--out", metavar="DIR", default="playground", help="output folder (default: playground)")
    p.add_argument("--steps", type=int, default=1000, help="steps per optimiser (default 1000)")
    p.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
    p.set_defaults(handler=run)


def run(args) -> int:
    from pathlib import Path

    from .errors import output_folder
    from ..app import run_playground
    from ..app.playground import SURFACES
    from .progress import Progress
    progress = None if args.no_progress else Progress(len(SURFACES) * len(OPTIMIZERS), "playground")
    with output_folder(args.out):
        results = run_playground(args.out, steps=args.steps, progress=progress)
    for surface, rows in results.items():
        print(f"{surface}: " + ", ".join(f"{o} {r['distance']:.3g}" for o, r in rows.items())
              + "  (distance to the nearest minimum)")
    print(f"open {Path(args.out) / 'index.html'}")
    return 0
