"""A tuning worker process: ``python -m descend.tune.worker TUNE_JSON INDEX N_TRIALS``.

Started by :func:`descend.tune.study.run_study` with single-threaded BLAS in its environment; runs
``N_TRIALS`` trials of the study that ``TUNE_JSON`` describes and exits.
"""

from __future__ import annotations

import sys


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 3:
        print("usage: python -m descend.tune.worker TUNE_JSON INDEX N_TRIALS", file=sys.stderr)
        return 2
    from .study import run_worker
    run_worker(argv[0], int(argv[1]), int(argv[2]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
