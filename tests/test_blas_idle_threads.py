"""OpenBLAS's idle worker threads: `import descend` (before NumPy is loaded) sets OPENBLAS_THREAD_TIMEOUT to
24, so the workers sleep after about 2^24 cycles (a few ms) instead of spinning for 2^28 (about 0.1 s) after
each product, which took the core the kernels run on next. Each case runs in a fresh interpreter, because
OpenBLAS reads the variable once, when it loads."""

import json
import os
import subprocess
import sys

import pytest

_PROBE = r"""
import json, os, sys, time
first = sys.argv[1]
if first == "numpy":
    import numpy
import descend, numpy as np
from descend.kernels import threads as descend_threads
from threadpoolctl import threadpool_info
threads = max([i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"] or [1])
a = np.ones((512, 512), np.float32)
spin = None
if threads > 1:
    a @ a  # wakes the BLAS workers; then measure the process's CPU time while the main thread sleeps
    c0, w0 = time.process_time(), time.perf_counter()
    time.sleep(0.2)
    spin = (time.process_time() - c0) * 1000
print(json.dumps({"timeout": os.environ.get("OPENBLAS_THREAD_TIMEOUT"), "threads": threads, "spin_ms": spin,
                  "spinning": descend_threads.spinning_workers()}))
"""


def _probe(first: str, **env) -> dict:
    environment = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    environment.pop("OPENBLAS_NUM_THREADS", None)
    environment.update(env)
    out = subprocess.run([sys.executable, "-c", _PROBE, first], env=environment, capture_output=True, text=True,
                         timeout=120, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_sets_a_short_openblas_spin_when_numpy_is_not_loaded_yet():
    result = _probe("descend")
    assert result["timeout"] == "24"
    # the default must count as sleeping soon, or the convolutions would stop sharing their work out
    assert result["spinning"] is False
    if result["threads"] < 2:
        pytest.skip("NumPy's BLAS runs on one thread here: no idle workers to measure")
    # with the default 2^28 cycles a worker spins ~0.1 s of the 0.2 s sleep; with 2^24 a few ms
    assert result["spin_ms"] < 40, result


def test_a_value_the_user_set_is_kept():
    assert _probe("descend", OPENBLAS_THREAD_TIMEOUT="25")["timeout"] == "25"


def test_nothing_is_set_when_numpy_was_imported_first():
    # OpenBLAS has read its environment already; setting the variable then would only mislead
    result = _probe("numpy")
    assert result["timeout"] is None
    assert result["spinning"] is True
