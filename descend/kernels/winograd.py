"""Winograd F(2×2, 3×3) convolution (Lavin & Gray 2016) for 3×3, stride-1 convolutions, in float32.

Every 2×2 block of outputs is computed from the 4×4 input tile d under it and the 3×3 filter w as

    Y = Aᵀ [ (G w Gᵀ) ⊙ (Bᵀ d B) ] A,

    Bᵀ = [[1, 0, −1, 0], [0, 1, 1, 0], [0, −1, 1, 0], [0, 1, 0, −1]],
    G  = [[1, 0, 0], [½, ½, ½], [½, −½, ½], [0, 0, 1]],
    Aᵀ = [[1, 1, 1, 0], [0, 1, −1, −1]].

Summed over input channels, the ⊙ becomes, for each of the 16 positions of the 4×4 transformed tile, one
matrix product over channels: with U = G w Gᵀ as (16, O, C) and V = Bᵀ d B as (16, C, T) for all T tiles of
the batch, M = U V is 16 products (O, C) @ (C, T), and the output transform maps M back to (O, Hₒ, Wₒ, N).
That is 16 multiplications per 2×2 outputs and channel pair instead of 36: 2.25× fewer than the direct
(im2col) product, and V holds 4× the input where the patch matrix holds 9×.

The backward pass is the transpose of each linear step, with g = dL/dY:

    dM = A g Aᵀ (per tile),   dU = dM Vᵀ,   dL/dw = Gᵀ dU G,   dV = Uᵀ dM,   dL/dd = B dV Bᵀ,

the last added onto the (overlapping) input tiles. V is rebuilt from the input in the backward pass rather
than kept, so the memory a convolution holds stays that of its input.

Images are batch-innermost, (C, H, W, N) in memory (see :mod:`descend.ops.conv`); tiles are numbered
(tile row, tile column, sample) with the sample innermost, so each kernel's inner loop runs along N over
contiguous memory. The transforms' coefficients are 0, ±1 and ±½, so they add rounding only through sums of
at most 16 terms; the result's difference from the direct product is measured in the tests against float64.
"""

from __future__ import annotations

import numpy as np

from . import kernel, prange

__all__ = ["weight_transform", "weight_grad", "input_transform", "output_transform", "output_grad_transform",
           "input_grad_transform", "tiles"]

_G = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]])


def tiles(size: int) -> int:
    """Number of 2-wide output tiles covering ``size`` outputs."""
    return (size + 1) // 2


def weight_transform(w: np.ndarray) -> np.ndarray:
    """U = G w Gᵀ for w (O, C, 3, 3): (16, O, C) float32, position (a, b) at index 4a + b."""
    u = np.einsum("ai,ocij,bj->aboc", _G, w.astype(np.float64), _G)
    return np.ascontiguousarray(u.reshape(16, w.shape[0], w.shape[1]), dtype=np.float32)


def weight_grad(du: np.ndarray, o: int, c: int) -> np.ndarray:
    """dL/dw = Gᵀ dU G from dU (16, O, C): (O, C, 3, 3)."""
    g = np.einsum("ai,aboc,bj->ocij", _G, du.reshape(4, 4, o, c).astype(np.float64), _G)
    return g.astype(np.float32)


@kernel(parallel=True, parallel_from=1)
def _input_transform(xp, v, th, tw):
    c_count, _, _, n_count = xp.shape
    for job in prange(c_count * th):
        c = job // th
        ti = job % th
        r = 2 * ti
        for tj in range(tw):
            s = 2 * tj
            base = (ti * tw + tj) * n_count
            for n in range(n_count):
                d00 = xp[c, r, s, n]
                d01 = xp[c, r, s + 1, n]
                d02 = xp[c, r, s + 2, n]
                d03 = xp[c, r, s + 3, n]
                d10 = xp[c, r + 1, s, n]
                d11 = xp[c, r + 1, s + 1, n]
                d12 = xp[c, r + 1, s + 2, n]
                d13 = xp[c, r + 1, s + 3, n]
                d20 = xp[c, r + 2, s, n]
                d21 = xp[c, r + 2, s + 1, n]
                d22 = xp[c, r + 2, s + 2, n]
                d23 = xp[c, r + 2, s + 3, n]
                d30 = xp[c, r + 3, s, n]
                d31 = xp[c, r + 3, s + 1, n]
                d32 = xp[c, r + 3, s + 2, n]
                d33 = xp[c, r + 3, s + 3, n]
                # Bᵀ d: rows
                t00 = d00 - d20
                t01 = d01 - d21
                t02 = d02 - d22
                t03 = d03 - d23
                t10 = d10 + d20
                t11 = d11 + d21
                t12 = d12 + d22
                t13 = d13 + d23
                t20 = d20 - d10
                t21 = d21 - d11
                t22 = d22 - d12
                t23 = d23 - d13
                t30 = d10 - d30
                t31 = d11 - d31
                t32 = d12 - d32
                t33 = d13 - d33
                # (Bᵀ d) B: columns
                j = base + n
                v[0, c, j] = t00 - t02
                v[1, c, j] = t01 + t02
                v[2, c, j] = t02 - t01
                v[3, c, j] = t01 - t03
                v[4, c, j] = t10 - t12
                v[5, c, j] = t11 + t12
                v[6, c, j] = t12 - t11
                v[7, c, j] = t11 - t13
                v[8, c, j] = t20 - t22
                v[9, c, j] = t21 + t22
                v[10, c, j] = t22 - t21
                v[11, c, j] = t21 - t23
                v[12, c, j] = t30 - t32
                v[13, c, j] = t31 + t32
                v[14, c, j] = t32 - t31
                v[15, c, j] = t31 - t33


def input_transform(xp: np.ndarray, th: int, tw: int, out: np.ndarray) -> np.ndarray:
    """V = Bᵀ d B of every tile of the padded input ``xp`` (C, ≥2th+2, ≥2tw+2, N) into ``out`` (16, C, T)."""
    _input_transform(xp, out, np.int64(th), np.int64(tw))
    return out


@kernel(parallel=True, parallel_from=1)
def _output_transform(m, y, th, tw):
    o_count, ho, wo, n_count = y.shape
    for job in prange(o_count * th):
        o = job // th
        ti = job % th
        r = 2 * ti
        for tj in range(tw):
            s = 2 * tj
            base = (ti * tw + tj) * n_count
            for n in range(n_count):
                j = base + n
                # Aᵀ M: two rows
                p00 = m[0, o, j] + m[4, o, j] + m[8, o, j]
                p01 = m[1, o, j] + m[5, o, j] + m[9, o, j]
                p02 = m[2, o, j] + m[6, o, j] + m[10, o, j]
                p03 = m[3, o, j] + m[7, o, j] + m[11, o, j]
                p10 = m[4, o, j] - m[8, o, j] - m[12, o, j]
                p11 = m[5, o, j] - m[9, o, j] - m[13, o, j]
                p12 = m[6, o, j] - m[10, o, j] - m[14, o, j]
                p13 = m[7, o, j] - m[11, o, j] - m[15, o, j]
                # (Aᵀ M) A: two columns
                y[o, r, s, n] = p00 + p01 + p02
                if s + 1 < wo:
                    y[o, r, s + 1, n] = p01 - p02 - p03
                if r + 1 < ho:
                    y[o, r + 1, s, n] = p10 + p11 + p12
                    if s + 1 < wo:
                        y[o, r + 1, s + 1, n] = p11 - p12 - p13


def output_transform(m: np.ndarray, th: int, tw: int, out: np.ndarray) -> np.ndarray:
    """Y = Aᵀ M A of every tile into ``out`` (O, Hₒ, Wₒ, N), dropping a last half tile."""
    _output_transform(m, out, np.int64(th), np.int64(tw))
    return out


@kernel(parallel=True, parallel_from=1)
def _output_grad_transform(g, dm, th, tw):
    o_count, ho, wo, n_count = g.shape
    zero = np.float32(0.0)
    for job in prange(o_count * th):
        o = job // th
        ti = job % th
        r = 2 * ti
        for tj in range(tw):
            s = 2 * tj
            base = (ti * tw + tj) * n_count
            for n in range(n_count):
                g00 = g[o, r, s, n]
                g01 = g[o, r, s + 1, n] if s + 1 < wo else zero
                g10 = g[o, r + 1, s, n] if r + 1 < ho else zero
                g11 = g[o, r + 1, s + 1, n] if (r + 1 < ho and s + 1 < wo) else zero
                # A g: four rows of two
                q00 = g00
                q01 = g01
                q10 = g00 + g10
                q11 = g01 + g11
                q20 = g00 - g10
                q21 = g01 - g11
                q30 = -g10
                q31 = -g11
                # (A g) Aᵀ: four columns
                j = base + n
                dm[0, o, j] = q00
                dm[1, o, j] = q00 + q01
                dm[2, o, j] = q00 - q01
                dm[3, o, j] = -q01
                dm[4, o, j] = q10
                dm[5, o, j] = q10 + q11
                dm[6, o, j] = q10 - q11
                dm[7, o, j] = -q11
                dm[8, o, j] = q20
                dm[9, o, j] = q20 + q21
                dm[10, o, j] = q20 - q21
                dm[11, o, j] = -q21
                dm[12, o, j] = q30
                dm[13, o, j] = q30 + q31
                dm[14, o, j] = q30 - q31
                dm[15, o, j] = -q31


def output_grad_transform(g: np.ndarray, th: int, tw: int, out: np.ndarray) -> np.ndarray:
    """dM = A g Aᵀ of every tile of the output gradient ``g`` (O, Hₒ, Wₒ, N) into ``out`` (16, O, T)."""
    _output_grad_transform(g, out, np.int64(th), np.int64(tw))
    return out


@kernel(parallel=True, parallel_from=1)
def _input_grad_transform(dv, gxp, th, tw):
    c_count, _, _, n_count = gxp.shape
    for c in prange(c_count):  # a channel's tiles overlap, so one thread owns each channel
        for ti in range(th):
            r = 2 * ti
            for tj in range(tw):
                s = 2 * tj
                base = (ti * tw + tj) * n_count
                for n in range(n_count):
                    j = base + n
                    x00 = dv[0, c, j]
                    x01 = dv[1, c, j]
                    x02 = dv[2, c, j]
                    x03 = dv[3, c, j]
                    x10 = dv[4, c, j]
                    x11 = dv[5, c, j]
                    x12 = dv[6, c, j]
                    x13 = dv[7, c, j]
                    x20 = dv[8, c, j]
                    x21 = dv[9, c, j]
                    x22 = dv[10, c, j]
                    x23 = dv[11, c, j]
                    x30 = dv[12, c, j]
                    x31 = dv[13, c, j]
                    x32 = dv[14, c, j]
                    x33 = dv[15, c, j]
                    # B dV: rows (B = (Bᵀ)ᵀ)
                    e00 = x00
                    e01 = x01
                    e02 = x02
                    e03 = x03
                    e10 = x10 - x20 + x30
                    e11 = x11 - x21 + x31
                    e12 = x12 - x22 + x32
                    e13 = x13 - x23 + x33
                    e20 = -x00 + x10 + x20
                    e21 = -x01 + x11 + x21
                    e22 = -x02 + x12 + x22
                    e23 = -x03 + x13 + x23
                    e30 = -x30
                    e31 = -x31
                    e32 = -x32
                    e33 = -x33
                    # (B dV) Bᵀ: columns, added onto the tile
                    gxp[c, r, s, n] += e00
                    gxp[c, r, s + 1, n] += e01 - e02 + e03
                    gxp[c, r, s + 2, n] += -e00 + e01 + e02
                    gxp[c, r, s + 3, n] += -e03
                    gxp[c, r + 1, s, n] += e10
                    gxp[c, r + 1, s + 1, n] += e11 - e12 + e13
                    gxp[c, r + 1, s + 2, n] += -e10 + e11 + e12
                    gxp[c, r + 1, s + 3, n] += -e13
                    gxp[c, r + 2, s, n] += e20
                    gxp[c, r + 2, s + 1, n] += e21 - e22 + e23
                    gxp[c, r + 2, s + 2, n] += -e20 + e21 + e22
                    gxp[c, r + 2, s + 3, n] += -e23
                    gxp[c, r + 3, s, n] += e30
                    gxp[c, r + 3, s + 1, n] += e31 - e32 + e33
                    gxp[c, r + 3, s + 2, n] += -e30 + e31 + e32
                    gxp[c, r + 3, s + 3, n] += -e33


def input_grad_transform(dv: np.ndarray, th: int, tw: int, gxp: np.ndarray) -> np.ndarray:
    """Add B dV Bᵀ of every tile onto the zeroed padded input gradient ``gxp`` (C, ≥2th+2, ≥2tw+2, N)."""
    _input_grad_transform(dv, gxp, np.int64(th), np.int64(tw))
    return gxp
