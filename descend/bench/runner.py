"""Run the workloads in descend and PyTorch side by side: correctness check, throughput, GFLOP/s, memory.

For each workload, in one process:

1. **correctness** — torch builds the model; its initial state is loaded into a descend model of the same
   layers (``load_state_dict``); both train ``check_steps`` steps on the same batches (dropout off, since
   the two frameworks draw different masks) and the per-step losses must agree within
   ``|Δ| ≤ CHECK_ATOL + CHECK_RTOL·|loss|``; inference workloads compare the logits the same way.
2. **speed** — fresh models from a shared initial state, warm-up, then alternating timed runs
   (:func:`descend.bench.measure.compare_speed`); samples/s from each framework's best run (the median
   ratio is kept in the JSON too).
3. **memory** — one fresh subprocess per framework (:func:`descend.bench.measure.peak_memory`).
"""

from __future__ import annotations

import platform
import time

import numpy as np

from . import measure
from . import workloads as W

__all__ = ["run_benchmarks", "check_workload", "CHECK_ATOL", "CHECK_RTOL"]

CHECK_ATOL = 1e-4
CHECK_RTOL = 1e-3


def _pair(wl, dropout_p=None, seed=0):
    """A torch model and a descend model with torch's initial weights."""
    import torch
    torch.manual_seed(seed)
    t_model = W.build_torch(wl, dropout_p)
    d_model = W.build_descend(wl, dropout_p)
    d_model.load_state_dict(W.initial_state(t_model))
    return d_model, t_model


def check_workload(wl, check_steps: int = 20) -> dict:
    """Train (or run) both frameworks from the same weights on the same batches and compare the results.

    Returns ``{'passed', 'max_abs_diff', 'max_rel_diff', 'steps', 'what', 'descend_losses', 'torch_losses'}``.
    """
    batches = W.make_batches(wl, count=4, seed=1)
    d_model, t_model = _pair(wl, dropout_p=0.0)
    d_step, t_step = W.make_descend_step(wl, d_model), W.make_torch_step(wl, t_model)
    d_b, t_b = W.wrap_descend(batches), W.wrap_torch(batches)
    if wl.train:
        d_vals = np.array([d_step(*d_b[i % len(d_b)]) for i in range(check_steps)])
        t_vals = np.array([t_step(*t_b[i % len(t_b)]) for i in range(check_steps)])
        what = f"loss over {check_steps} training steps"
    else:
        d_vals = np.concatenate([np.asarray(d_step(*d_b[i])).ravel() for i in range(2)])
        t_vals = np.concatenate([t_step(*t_b[i]).numpy().ravel() for i in range(2)])
        what = "logits of 2 batches"
    diff = np.abs(d_vals - t_vals)
    passed = bool(np.all(diff <= CHECK_ATOL + CHECK_RTOL * np.abs(t_vals)))
    return {"passed": passed, "what": what, "max_abs_diff": float(diff.max()),
            "max_rel_diff": float((diff / np.maximum(np.abs(t_vals), 1e-12)).max()),
            "descend_losses": d_vals.tolist() if wl.train else None,
            "torch_losses": t_vals.tolist() if wl.train else None}


def speed_workload(wl, steps: int, repeat: int, warmup: int) -> dict:
    batches = W.make_batches(wl)
    d_model, t_model = _pair(wl)
    d_step, t_step = W.make_descend_step(wl, d_model), W.make_torch_step(wl, t_model)
    d_times, t_times = measure.compare_speed(d_step, W.wrap_descend(batches), t_step, W.wrap_torch(batches),
                                             steps, repeat, warmup)
    # the best run of each, as timeit reports: slower runs measure other processes' interference, not the code
    d_sec, t_sec = min(d_times), min(t_times)
    samples = steps * wl.batch
    out = {"steps": steps, "repeat": repeat, "warmup": warmup,
           "descend_s": d_times, "torch_s": t_times,
           "descend_samples_per_s": samples / d_sec, "torch_samples_per_s": samples / t_sec,
           "ratio": t_sec / d_sec,
           "ratio_median": measure.median(t_times) / measure.median(d_times)}
    flops = W.matmul_flops(wl)
    if flops is not None:
        out["flops_per_step"] = flops
        out["descend_gflops"] = flops * steps / d_sec / 1e9
        out["torch_gflops"] = flops * steps / t_sec / 1e9
    return out


def run_benchmarks(workloads=None, steps: int | None = None, repeat: int = 5, warmup: int = 5,
                   memory: bool = True, memory_steps: int = 5, check_steps: int = 20, threads: int | None = None,
                   log=print) -> dict:
    """Run the selected workloads (names, 'W1,W3', or None for all) and return the results as a dict.

    ``steps`` overrides each workload's default number of timed steps; ``threads`` limits NumPy's BLAS and
    torch to that many threads (default: the BLAS threads NumPy uses, which torch is then set to).
    """
    import torch

    if repeat < 1:
        raise ValueError(f"repeat must be >= 1, got {repeat!r}")
    if steps is not None and steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps!r}")
    selected = W.resolve(workloads)
    limiter = None
    if threads is not None:
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads!r}")
        from threadpoolctl import threadpool_limits
        limiter = threadpool_limits(threads)
    n_threads = measure.blas_threads()
    torch.set_num_threads(n_threads)
    rate, blas = measure.matmul_rate(), measure.blas_kernels()
    log(f"threads: {n_threads} (NumPy BLAS and torch); NumPy float32 1024x1024 matmul: {rate:.1f} GFLOP/s; "
        f"NumPy's BLAS: {blas}")
    results = {
        "machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
                    "python": platform.python_version(), "numpy": np.__version__, "torch": torch.__version__,
                    "threads": n_threads, "matmul_gflops": rate, "blas": blas},
        "settings": {"repeat": repeat, "warmup": warmup, "memory_steps": memory_steps, "check_steps": check_steps,
                     "check_tolerance": f"|Δ| <= {CHECK_ATOL} + {CHECK_RTOL}·|torch|"},
        "workloads": [],
    }
    started = time.perf_counter()
    try:
        for wl in selected:
            n = steps if steps is not None else wl.steps
            entry = {"name": wl.name, "description": wl.description, "batch": wl.batch, "train": wl.train}
            entry["check"] = check_workload(wl, check_steps if wl.check_steps is None else min(check_steps,
                                                                                          wl.check_steps))
            entry["speed"] = speed_workload(wl, n, repeat, warmup)
            if memory:
                entry["memory"] = {fw: measure.peak_memory(wl.name, fw, memory_steps, n_threads)
                                   for fw in ("descend", "torch")}
            s = entry["speed"]
            log(f"{wl.name}: descend {s['descend_samples_per_s']:.0f}/s, torch {s['torch_samples_per_s']:.0f}/s, "
                f"ratio {s['ratio']:.2f}; check {'ok' if entry['check']['passed'] else 'FAILED'} "
                f"(max |Δ| {entry['check']['max_abs_diff']:.1e})"
                + (f"; memory {entry['memory']['descend']['peak_mib']:.1f} vs "
                   f"{entry['memory']['torch']['peak_mib']:.1f} MiB" if memory else ""))
            results["workloads"].append(entry)
    finally:
        if limiter is not None:
            limiter.restore_original_limits()
    results["elapsed_s"] = time.perf_counter() - started
    return results
