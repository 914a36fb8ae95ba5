"""Normalisation kernels (float32): layer norm forward and backward, one pass over each row.

For rows x of length D (the normalised dimensions, flattened), with γ, β of length D:

    μ = Σx / D,   var = Σ(x − μ)² / D,   r = 1/√(var + eps),   x̂ = (x − μ)·r,   y = γ·x̂ + β;

backward, with gh = g·γ:   dx = r·(gh − mean(gh) − x̂·mean(gh·x̂)),   dγ = Σ_rows g·x̂,   dβ = Σ_rows g.

Rows run in parallel. The column sums dγ and dβ are accumulated per thread chunk of rows (no two threads
write the same memory) and the chunks' partial sums added at the end. Sums inside a row are reassociated
(vectorised partial sums), with float32 accumulation as PyTorch's kernels do.
"""

from __future__ import annotations

import numpy as np

from .. import buffers
from . import kernel, prange, thread_count

__all__ = ["layer_norm_forward", "layer_norm_backward"]


@kernel(parallel=True, parallel_from=1 << 14, reassociate=True)
def _ln_forward(x, gamma, beta, eps, out, x_hat, inv_std, affine):
    rows, d = x.shape
    for i in prange(rows):
        s = np.float32(0.0)
        for j in range(d):
            s += x[i, j]
        mu = s / np.float32(d)
        q = np.float32(0.0)
        for j in range(d):
            c = x[i, j] - mu
            q += c * c
        r = np.float32(1.0) / np.sqrt(q / np.float32(d) + eps)
        inv_std[i] = r
        for j in range(d):
            h = (x[i, j] - mu) * r
            x_hat[i, j] = h
            out[i, j] = h * gamma[j] + beta[j] if affine else h


def layer_norm_forward(x2: np.ndarray, gamma, beta, eps: float):
    """(y, x̂, r) for a C-contiguous float32 (rows, D) array; ``gamma``/``beta`` flat (D,) or None."""
    rows, d = x2.shape
    affine = gamma is not None or beta is not None
    g = np.ones(d, np.float32) if gamma is None else np.ascontiguousarray(gamma, np.float32).reshape(d)
    b = np.zeros(d, np.float32) if beta is None else np.ascontiguousarray(beta, np.float32).reshape(d)
    out = buffers.empty((rows, d), np.float32)
    x_hat = buffers.empty((rows, d), np.float32) if affine else out
    inv_std = np.empty(rows, np.float32)
    _ln_forward(x2, g, b, np.float32(eps), out, x_hat, inv_std, affine)
    return out, x_hat, inv_std


@kernel(parallel=True, reassociate=True)
def _ln_backward(chunks, g, x_hat, inv_std, gamma, gx, part_gamma, part_beta, need_x):
    rows, d = g.shape
    per = (rows + chunks - 1) // chunks
    for c in prange(chunks):
        for i in range(c * per, min(rows, (c + 1) * per)):
            if need_x:
                s1 = np.float32(0.0)
                s2 = np.float32(0.0)
                for j in range(d):
                    gh = g[i, j] * gamma[j]
                    s1 += gh
                    s2 += gh * x_hat[i, j]
                m1 = s1 / np.float32(d)
                m2 = s2 / np.float32(d)
                r = inv_std[i]
                for j in range(d):
                    gx[i, j] = r * (g[i, j] * gamma[j] - m1 - x_hat[i, j] * m2)
            for j in range(d):
                part_gamma[c, j] += g[i, j] * x_hat[i, j]
                part_beta[c, j] += g[i, j]


def layer_norm_backward(g2: np.ndarray, x_hat: np.ndarray, inv_std: np.ndarray, gamma, need_x: bool):
    """(dx or None, dγ, dβ) for the (rows, D) gradient ``g2``; dγ, dβ are (D,) float32."""
    rows, d = x_hat.shape
    g2 = np.ascontiguousarray(g2, np.float32)
    gam = np.ones(d, np.float32) if gamma is None else np.ascontiguousarray(gamma, np.float32).reshape(d)
    chunks = max(1, min(rows, thread_count())) if rows * d >= (1 << 14) else 1
    gx = buffers.empty((rows, d), np.float32) if need_x else np.empty((1, 1), np.float32)
    part_gamma = np.zeros((chunks, d), np.float32)
    part_beta = np.zeros((chunks, d), np.float32)
    run = _ln_backward.run_parallel if chunks > 1 else _ln_backward.run_serial
    run(np.int64(chunks), g2, x_hat, inv_std, gam, gx, part_gamma, part_beta, need_x)
    return (gx if need_x else None), part_gamma.sum(axis=0), part_beta.sum(axis=0)
