"""Measurements: step throughput, the machine's float32 matrix-product rate, BLAS threads, peak memory.

Throughput: after ``warmup`` untimed steps, ``repeat`` timed runs of ``steps`` steps each (cycling over the
same pre-made batches, ``loss.item()`` read every step); the best run gives samples/s (as ``timeit``
reports: on a shared machine slower runs measure other processes, not the code). The two frameworks'
runs alternate, so drifting machine load hits both alike.

Peak memory: each (workload, framework) runs in a fresh Python subprocess that imports only its own
framework (descend, or torch) and makes the data. Then the kernel's resident-set high-water mark is reset
(``/proc/self/clear_refs`` ← 5, Linux) and the current RSS taken as the baseline; the model is built, the
optimiser made and ``steps`` steps run. Before the baseline a throwaway 2-step run at batch 2 does each
framework's lazy one-time initialisation (kernels, thread pools), which is not the workload's; its
memory is then freed and handed back to the system (``gc.collect()``, glibc ``malloc_trim(0)``) so the
workload cannot reuse it unseen. Peak memory = VmHWM − baseline, i.e. the most extra resident memory
the model, its gradients, optimiser state and the step's intermediates ever held. Where the high-water
mark cannot be reset, ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` minus the RSS after imports is used
(the JSON records which method ran).
"""

from __future__ import annotations

import dataclasses
import gc
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

__all__ = ["blas_threads", "blas_kernels", "matmul_rate", "time_steps", "peak_memory", "child_main"]


def blas_threads() -> int:
    """Threads NumPy's BLAS uses (threadpoolctl, from scikit-learn's dependencies), else the CPU count."""
    try:
        from threadpoolctl import threadpool_info
        counts = [i["num_threads"] for i in threadpool_info() if i.get("user_api") == "blas"]
        if counts:
            return int(max(counts))
    except Exception:  # pragma: no cover - threadpoolctl missing or unreadable
        pass
    return os.cpu_count() or 1


def blas_kernels() -> str:
    """NumPy's BLAS and the kernels it runs, as threadpoolctl reports them ("openblas 0.3.31, SkylakeX
    kernels"), with ``OPENBLAS_CORETYPE`` when the environment chose them; "unknown" without threadpoolctl.
    OpenBLAS picks its kernels by CPU when it loads, unless that variable names them: the same machine can run
    products at half speed on another core's kernels (docs/bench.md, ninth session)."""
    from ..kernels.blas import numpy_blas_info
    info = numpy_blas_info()  # NumPy's own first (SciPy, loaded by scikit-learn, brings a second OpenBLAS)
    if not info:
        return "unknown"
    lib = info[0]
    text = f"{lib.get('internal_api')} {lib.get('version')}"
    if lib.get("architecture"):
        text += f", {lib['architecture']} kernels"
    chosen = os.environ.get("OPENBLAS_CORETYPE")
    return text + (f" (OPENBLAS_CORETYPE={chosen} in the environment)" if chosen else "")


def matmul_rate(n: int = 1024, repeat: int = 5) -> float:
    """Float32 matrix-product rate of NumPy's BLAS in GFLOP/s: 2n³ / best time of ``repeat`` n×n @ n×n."""
    rng = np.random.default_rng(0)
    a = rng.random((n, n), dtype=np.float32)
    b = rng.random((n, n), dtype=np.float32)
    out = np.empty((n, n), dtype=np.float32)
    np.matmul(a, b, out=out)  # warm-up
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        np.matmul(a, b, out=out)
        best = min(best, time.perf_counter() - t0)
    return 2.0 * n ** 3 / best / 1e9


def time_steps(step, batches, steps: int) -> float:
    """Seconds for ``steps`` calls of ``step(x, y)``, cycling over ``batches``."""
    nb = len(batches)
    t0 = time.perf_counter()
    for i in range(steps):
        x, y = batches[i % nb]
        step(x, y)
    return time.perf_counter() - t0


def compare_speed(d_step, d_batches, t_step, t_batches, steps: int, repeat: int, warmup: int):
    """Warm both up, then alternate ``repeat`` timed runs; returns (descend seconds list, torch seconds list)."""
    time_steps(d_step, d_batches, warmup)
    time_steps(t_step, t_batches, warmup)
    d_times, t_times = [], []
    for r in range(repeat):
        # alternate which goes first, so neither always runs on the warmer caches
        if r % 2 == 0:
            d_times.append(time_steps(d_step, d_batches, steps))
            t_times.append(time_steps(t_step, t_batches, steps))
        else:
            t_times.append(time_steps(t_step, t_batches, steps))
            d_times.append(time_steps(d_step, d_batches, steps))
    return d_times, t_times


def median(values):
    return statistics.median(values)


# ---------------------------------------------------------------------------------------------- memory
def _status_kb(field: str):
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _trim_heap() -> None:
    """glibc's ``malloc_trim(0)``: return free heap memory to the system (a no-op elsewhere)."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _load_kernels() -> None:
    """Initialise descend's compiled kernels (Numba, and LLVM as the first kernel loads from the cache: about
    50 + 55 MiB resident, once per process, measured), which the throwaway run at batch 2 may not reach (its
    arrays are below the kernels' sizes): the peak then counts the workload's memory, as torch's own
    initialisation is not counted either."""
    import numpy as np
    from descend import kernels
    if kernels.available():
        from descend.kernels import activation
        x = np.zeros(1, np.float32)
        activation.relu_forward(x, np.empty_like(x), np.empty(1, np.bool_))


def child_main(workload_name: str, framework: str, steps: int, threads: int) -> dict:
    """Run in a fresh subprocess: build and train one framework's model, return its peak extra memory (MiB)."""
    from . import workloads as W

    if framework == "torch":
        import torch
        torch.set_num_threads(threads)
    else:
        import descend  # noqa: F401
    wl = W.WORKLOADS[workload_name]
    build = W.build_torch if framework == "torch" else W.build_descend
    make_step = W.make_torch_step if framework == "torch" else W.make_descend_step
    wrap = W.wrap_torch if framework == "torch" else W.wrap_descend
    # a throwaway run at batch 2 first: lazy library initialisation (kernels, thread pools) is not the workload's
    tiny = dataclasses.replace(wl, batch=2)
    time_steps(make_step(tiny, build(tiny)), wrap(W.make_batches(tiny, count=2)), 2)
    if framework != "torch":
        _load_kernels()
    gc.collect()
    _trim_heap()  # hand the throwaway run's freed memory back, or the workload would reuse it unseen
    wrapped = wrap(W.make_batches(wl))
    import resource
    method = "VmHWM after clear_refs" if _reset_peak() else "ru_maxrss"
    base_kb = _status_kb("VmRSS")
    if base_kb is None:  # not Linux: the peak so far stands in for the baseline
        method = "ru_maxrss"
        base_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    time_steps(make_step(wl, build(wl)), wrapped, steps)
    peak_kb = _status_kb("VmHWM") if method.startswith("VmHWM") else None
    if peak_kb is None:
        peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"workload": workload_name, "framework": framework, "peak_mib": max(peak_kb - base_kb, 0) / 1024.0,
            "baseline_mib": base_kb / 1024.0, "method": method}


def peak_memory(workload_name: str, framework: str, steps: int, threads: int, timeout: float = 300) -> dict:
    """:func:`child_main` in a fresh ``python -m descend.bench --child ...`` subprocess."""
    cmd = [sys.executable, "-m", "descend.bench", "--child", workload_name, framework, str(steps), str(threads)]
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"memory subprocess for {workload_name}/{framework} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])
