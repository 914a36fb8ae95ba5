"""``descend runs [DIR]``: list the runs in a folder with their key metrics."""

from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("runs", help="list runs with their key metrics",
                       description="List the run folders under DIR (default ./runs), newest last, with data "
                                   "set, model, epochs and final metrics.")
    p.add_argument("dir", nargs="?", default="runs", metavar="DIR", help="folder of runs (default: runs)")
    p.set_defaults(handler=run)


def run(args) -> int:
    from ..app import format_runs_table, list_runs
    rows = list_runs(args.dir)
    print(format_runs_table(rows) if rows else f"no runs in {args.dir}")
    return 0
