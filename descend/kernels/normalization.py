"""Normalisation kernels (float32): layer norm and training-mode batch norm.

**Layer norm**, one pass over each row each way.

For rows x of length D (the normalised dimensions, flattened), with γ, β of length D:

    μ = Σx / D,   var = Σ(x − μ)² / D,   r = 1/√(var + eps),   x̂ = (x − μ)·r,   y = γ·x̂ + β;

backward, with gh = g·γ:   dx = r·(gh − mean(gh) − x̂·mean(gh·x̂)),   dγ = Σ_rows g·x̂,   dβ = Σ_rows g.

Rows run in parallel. The column sums dγ and dβ are accumulated per thread chunk of rows (no two threads
write the same memory) and the chunks' partial sums added at the end. Sums inside a row are reassociated
(vectorised partial sums), with float32 accumulation as PyTorch's kernels do.

**Batch norm** over x laid out as (A, C, B) with the channel in the middle — (1, C, H·W·N) for a
batch-innermost image batch, (N, C, H·W) for a row-major one — channels in parallel: the statistics in two
passes (mean, then the centred sum of squares), the output as x·k + h per channel, and the backward as one
pass of sums (Σg, Σg·(x − μ)) and one pass for dx = k_g·g − k_x·(x − μ) − k_0, with x̂ recomputed from x
rather than stored.
"""

from __future__ import annotations

import numpy as np

from .. import buffers
from . import kernel, prange, thread_count

__all__ = ["layer_norm_forward", "layer_norm_backward", "channel_view", "batch_norm_train", "batch_norm_apply",
           "batch_norm_backward"]


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


# ---------------------------------------------------------------------------------------------- batch norm
@kernel(parallel=True, parallel_from=2, reassociate=True)
def _bn_stats(x3, mean, var):
    """Per channel c of x3 (A, C, B): the mean and the biased variance over A and B (two passes)."""
    a_count, c_count, b_count = x3.shape
    n = np.float32(a_count * b_count)
    for c in prange(c_count):
        s = np.float32(0.0)
        for a in range(a_count):
            for b in range(b_count):
                s += x3[a, c, b]
        mu = s / n
        q = np.float32(0.0)
        for a in range(a_count):
            for b in range(b_count):
                d = x3[a, c, b] - mu
                q += d * d
        mean[c] = mu
        var[c] = q / n


@kernel(parallel=True, parallel_from=2)
def _bn_apply(x3, shift, scale, out3, relu):
    """out = x·scale[c] + shift[c] per channel (the affine form of (x − μ)·r·γ + β), then max(0, ·) when
    ``relu`` (NaN and −0 kept, as PyTorch's relu keeps them)."""
    a_count, c_count, b_count = x3.shape
    zero = np.float32(0.0)
    for c in prange(c_count):
        k = scale[c]
        h = shift[c]
        for a in range(a_count):
            for b in range(b_count):
                y = x3[a, c, b] * k + h
                if relu and y < zero:
                    y = zero
                out3[a, c, b] = y


@kernel(parallel=True, parallel_from=2, reassociate=True)
def _bn_grad_sums(g3, x3, mean, sum_g, sum_gx, out3, relu):
    """Per channel: Σg and Σ g·(x − μ); with ``relu``, g is first zeroed where the fused output is ≤ 0."""
    a_count, c_count, b_count = x3.shape
    zero = np.float32(0.0)
    for c in prange(c_count):
        mu = mean[c]
        s1 = np.float32(0.0)
        s2 = np.float32(0.0)
        for a in range(a_count):
            for b in range(b_count):
                gv = g3[a, c, b]
                if relu and out3[a, c, b] <= zero:
                    gv = zero
                s1 += gv
                s2 += gv * (x3[a, c, b] - mu)
        sum_g[c] = s1
        sum_gx[c] = s2


@kernel(parallel=True, parallel_from=2)
def _bn_grad_input(g3, x3, mean, k_g, k_x, k_0, gx3, out3, relu):
    """gx = k_g[c]·g − k_x[c]·(x − μ) − k_0[c] per channel (g masked as in :func:`_bn_grad_sums`)."""
    a_count, c_count, b_count = x3.shape
    zero = np.float32(0.0)
    for c in prange(c_count):
        mu = mean[c]
        kg = k_g[c]
        kx = k_x[c]
        k0 = k_0[c]
        for a in range(a_count):
            for b in range(b_count):
                gv = g3[a, c, b]
                if relu and out3[a, c, b] <= zero:
                    gv = zero
                gx3[a, c, b] = kg * gv - kx * (x3[a, c, b] - mu) - k0


def channel_view(x: np.ndarray):
    """``x`` (N, C, *) as a C-contiguous (A, C, B) array with the channel in the middle, and the axis order
    that makes an array of ``x``'s shape from an (A, C, B) buffer — or None when ``x`` is laid out neither
    batch-innermost (C, *, N) nor row-major (N, C, *)."""
    nd = x.ndim
    order = (1,) + tuple(range(2, nd)) + (0,)
    m = x.transpose(order)
    if m.flags.c_contiguous:                         # batch innermost: (1, C, rest·N)
        return m.reshape(1, x.shape[1], -1), order
    if x.flags.c_contiguous:
        return x.reshape(x.shape[0], x.shape[1], -1), tuple(range(nd))
    return None


def batch_norm_train(x3, eps):
    """(mean, var, r = 1/√(var + eps)) per channel of the (A, C, B) float32 array."""
    c = x3.shape[1]
    mean, var = np.empty(c, np.float32), np.empty(c, np.float32)
    _bn_stats(x3, mean, var)
    return mean, var, (np.float32(1.0) / np.sqrt(var + np.float32(eps))).astype(np.float32)


def batch_norm_apply(x3, mean, inv_std, gamma, beta, relu: bool = False):
    """y = (x − μ)·r·γ + β as x·k + h per channel (max(0, y) with ``relu``), into a recycled (A, C, B)
    buffer."""
    k = inv_std if gamma is None else (inv_std * gamma).astype(np.float32)
    h = -mean * k if beta is None else (beta - mean * k).astype(np.float32)
    out3 = buffers.empty(x3.shape, np.float32)
    _bn_apply(x3, np.ascontiguousarray(h, np.float32), np.ascontiguousarray(k, np.float32), out3, relu)
    return out3


def batch_norm_backward(g3, x3, mean, inv_std, gamma, need_x, relu_out=None):
    """(dx as (A, C, B) or None, Σ g·x̂ (= dγ), Σg (= dβ)) of training-mode batch norm:
    dx = (γr/n)·(n·g − Σg − x̂·Σ(g·x̂)) with x̂ = (x − μ)·r, as k_g·g − k_x·(x − μ) − k_0. With
    ``relu_out`` (the fused max(0, BN) output), g is ReLU's gradient g·[out > 0] first."""
    relu = relu_out is not None
    out3 = relu_out if relu else g3
    c = x3.shape[1]
    n = x3.shape[0] * x3.shape[2]
    sum_g, sum_gxc = np.empty(c, np.float32), np.empty(c, np.float32)
    _bn_grad_sums(g3, x3, mean, sum_g, sum_gxc, out3, relu)
    sum_gx = (sum_gxc * inv_std).astype(np.float32)             # Σ g·x̂
    gx3 = None
    if need_x:
        scale = inv_std if gamma is None else inv_std * gamma   # γr
        k_g = scale.astype(np.float32)
        k_x = (scale * inv_std * sum_gx / n).astype(np.float32)  # γr · r·Σ(g x̂)/n
        k_0 = (scale * sum_g / n).astype(np.float32)
        gx3 = buffers.empty(x3.shape, np.float32)
        _bn_grad_input(g3, x3, mean, k_g, k_x, k_0, gx3, out3, relu)
    return gx3, sum_gx, sum_g
