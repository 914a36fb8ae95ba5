"""Run the descend-vs-PyTorch benchmarks: ``python bench/run.py [--workloads W1,W3] [--steps N] [--repeat R]``.

The code lives in the package (:mod:`descend.bench`); this is the same as ``python -m descend.bench``.
"""

import sys

from descend.bench.cli import main

if __name__ == "__main__":
    sys.exit(main())
