"""Winograd F(4×4, 3×3) convolution (Lavin & Gray 2016) for 3×3, stride-1 convolutions, in float32.

Every 4×4 block of outputs is computed from the 6×6 input tile d under it and the 3×3 filter w as

    Y = Aᵀ [ (G w Gᵀ) ⊙ (Bᵀ d B) ] A,

at the interpolation points 0, 1, −1, ½, −2 and ∞:

    Bᵀ = [[1, −3/2, −2, 3/2, 1, 0], [0, −1, ½, 5/2, 1, 0], [0, 1, −5/2, ½, 1, 0],
          [0, −2, −1, 2, 1, 0], [0, ½, −1, −½, 1, 0], [0, 1, −3/2, −2, 3/2, 1]],
    G  = [[1, 0, 0], [⅓, ⅓, ⅓], [−⅓, ⅓, −⅓], [−16/15, −8/15, −4/15], [1/15, −2/15, 4/15], [0, 0, 1]],
    Aᵀ = [[1, 1, 1, 1, 1, 0], [0, 1, −1, ½, −2, 0], [0, 1, 1, ¼, 4, 0], [0, 1, −1, ⅛, −8, 1]].

These points round less than the usual 0, ±1, ±2 (Lavin & Gray 2016; Barabasz et al. 2020 compare point sets):
simulated in float32 over 32 channels, the root-mean-square error against float64 was 0.87·10⁻⁶ of the
output's against 1.31·10⁻⁶, the largest 1.6·10⁻⁶ against 4.2·10⁻⁶ (Bᵀ then has five nonzeros in its first and
last rows instead of three; every coefficient is a binary fraction, exact in float32). Most of what remains is the
float32 sum over channels in the products, amplified by the output transform.

As in :mod:`descend.kernels.winograd` (F(2×2, 3×3), whose layout and interface this module shares), the sum
over input channels turns the ⊙ into 36 matrix products (O, C) @ (C, T), one per position of the transformed
tile. That is 36 multiplications per 16 outputs and channel pair: 4× fewer than the direct product's 144 and
1.78× fewer than F(2×2, 3×3)'s 64, and the transformed input is 2.25× the input instead of 4×. The price is
rounding: the transforms have coefficients up to 8, so the error against float64 is several times F(2×2,
3×3)'s (measured in the tests; still float32-sized).

The backward pass is the transpose of each linear step, with g = dL/dY:

    dM = A g Aᵀ,   dU = dM Vᵀ,   dL/dw = Gᵀ dU G,   dV = Uᵀ dM,   dL/dd = B dV Bᵀ (added onto the tiles).

Each kernel applies its matrix to the rows of a tile row of the image first, then to the columns of each tile;
every inner loop runs along the N samples of a tile (batch innermost) with one store stream and at most six
load streams, which the compiler vectorises.
"""

from __future__ import annotations

import types

import numpy as np

from . import helper, kernel, prange
from .winograd import check_positions

__all__ = ["SCHEME", "tiles", "weight_transform", "weight_grad", "input_transform", "output_transform",
           "output_grad_transform", "input_grad_transform"]

_BT = np.array([[1, -1.5, -2, 1.5, 1, 0], [0, -1, 0.5, 2.5, 1, 0], [0, 1, -2.5, 0.5, 1, 0],
                [0, -2, -1, 2, 1, 0], [0, 0.5, -1, -0.5, 1, 0], [0, 1, -1.5, -2, 1.5, 1]])
_G = np.array([[1, 0, 0], [1 / 3, 1 / 3, 1 / 3], [-1 / 3, 1 / 3, -1 / 3],
               [-16 / 15, -8 / 15, -4 / 15], [1 / 15, -2 / 15, 4 / 15], [0, 0, 1]])
_AT = np.array([[1, 1, 1, 1, 1, 0], [0, 1, -1, 0.5, -2, 0], [0, 1, 1, 0.25, 4, 0], [0, 1, -1, 0.125, -8, 1]])
#: G ⊗ G: row 6a + b, column 3i + j holds G[a, i]·G[b, j], so U = (G ⊗ G) w as one product over all filters.
_GG = np.kron(_G, _G)

# float32 constants, so that the kernels' arithmetic stays in float32
_2, _4, _8 = np.float32(2), np.float32(4), np.float32(8)
_0_5, _0_25, _0_125 = np.float32(0.5), np.float32(0.25), np.float32(0.125)
_1_5, _2_5 = np.float32(1.5), np.float32(2.5)


def tiles(size: int) -> int:
    """Number of 4-wide output tiles covering ``size`` outputs."""
    return (size + 3) // 4


def weight_transform(w: np.ndarray) -> np.ndarray:
    """U = G w Gᵀ for w (O, C, 3, 3): (36, O, C) float32, position (a, b) at 6a + b (computed in float64)."""
    o, c = w.shape[:2]
    u = _GG @ np.asarray(w, dtype=np.float64).reshape(o * c, 9).T
    return u.astype(np.float32).reshape(36, o, c)


def weight_grad(du: np.ndarray, o: int, c: int) -> np.ndarray:
    """dL/dw = Gᵀ dU G from dU (36, O, C): (O, C, 3, 3) float32 (computed in float64)."""
    g = _GG.T @ np.asarray(du, dtype=np.float64).reshape(36, o * c)
    return np.ascontiguousarray(g.T, dtype=np.float32).reshape(o, c, 3, 3)


@helper(inline=True)
def _bt(d, a, x0, x1, x2, x3, x4, x5):
    """d = row a of Bᵀ applied to (x0 … x5), elementwise."""
    if a == 0:
        for i in range(d.shape[0]):
            d[i] = x0[i] + x4[i] - _2 * x2[i] + _1_5 * (x3[i] - x1[i])
    elif a == 1:
        for i in range(d.shape[0]):
            d[i] = x4[i] - x1[i] + _0_5 * x2[i] + _2_5 * x3[i]
    elif a == 2:
        for i in range(d.shape[0]):
            d[i] = x1[i] + x4[i] - _2_5 * x2[i] + _0_5 * x3[i]
    elif a == 3:
        for i in range(d.shape[0]):
            d[i] = x4[i] - x2[i] + _2 * (x3[i] - x1[i])
    elif a == 4:
        for i in range(d.shape[0]):
            d[i] = x4[i] - x2[i] + _0_5 * (x1[i] - x3[i])
    else:
        for i in range(d.shape[0]):
            d[i] = x1[i] + x5[i] - _2 * x3[i] + _1_5 * (x4[i] - x2[i])


@helper(inline=True)
def _b(d, k, v0, v1, v2, v3, v4, v5):
    """d = row k of B (column k of Bᵀ) applied to (v0 … v5), elementwise."""
    if k == 0:
        for i in range(d.shape[0]):
            d[i] = v0[i]
    elif k == 1:
        for i in range(d.shape[0]):
            d[i] = v2[i] - v1[i] + v5[i] - _1_5 * v0[i] - _2 * v3[i] + _0_5 * v4[i]
    elif k == 2:
        for i in range(d.shape[0]):
            d[i] = _0_5 * v1[i] - v3[i] - v4[i] - _2 * v0[i] - _2_5 * v2[i] - _1_5 * v5[i]
    elif k == 3:
        for i in range(d.shape[0]):
            d[i] = _1_5 * v0[i] + _2_5 * v1[i] + _0_5 * (v2[i] - v4[i]) + _2 * (v3[i] - v5[i])
    elif k == 4:
        for i in range(d.shape[0]):
            d[i] = v0[i] + v1[i] + v2[i] + v3[i] + v4[i] + _1_5 * v5[i]
    else:
        for i in range(d.shape[0]):
            d[i] = v5[i]


@helper(inline=True)
def _at(d, a, m0, m1, m2, m3, m4, m5):
    """d = row a of Aᵀ applied to (m0 … m5), elementwise."""
    if a == 0:
        for i in range(d.shape[0]):
            d[i] = m0[i] + m1[i] + m2[i] + m3[i] + m4[i]
    elif a == 1:
        for i in range(d.shape[0]):
            d[i] = m1[i] - m2[i] + _0_5 * m3[i] - _2 * m4[i]
    elif a == 2:
        for i in range(d.shape[0]):
            d[i] = m1[i] + m2[i] + _0_25 * m3[i] + _4 * m4[i]
    else:
        for i in range(d.shape[0]):
            d[i] = m1[i] - m2[i] + _0_125 * m3[i] - _8 * m4[i] + m5[i]


@helper(inline=True)
def _a(d, a, g0, g1, g2, g3):
    """d = row a of A (column a of Aᵀ) applied to (g0 … g3), elementwise."""
    if a == 0:
        for i in range(d.shape[0]):
            d[i] = g0[i]
    elif a == 1:
        for i in range(d.shape[0]):
            d[i] = g0[i] + g1[i] + g2[i] + g3[i]
    elif a == 2:
        for i in range(d.shape[0]):
            d[i] = g0[i] - g1[i] + g2[i] - g3[i]
    elif a == 3:
        for i in range(d.shape[0]):
            d[i] = g0[i] + _0_5 * g1[i] + _0_25 * g2[i] + _0_125 * g3[i]
    elif a == 4:
        for i in range(d.shape[0]):
            d[i] = g0[i] - _2 * g1[i] + _4 * g2[i] - _8 * g3[i]
    else:
        for i in range(d.shape[0]):
            d[i] = g3[i]


# The two tile-row helpers are the same as winograd.py's, copied on purpose: Numba's cache of a kernel is
# invalidated by changes to the kernel's own file only, so a helper imported from another file could change
# without the kernels here being recompiled.
@helper
def _row_count(p0, p1, tw):
    """How many tile rows the tile positions p0…p1 touch (tw tiles to a row)."""
    return (p1 - 1) // tw - p0 // tw + 1


@helper
def _row_span(k, p0, p1, tw):
    """The k-th tile row the positions p0…p1 touch: its index ti and the range tj0…tj1 of its tile columns."""
    ti = p0 // tw + k
    return ti, max(p0 - ti * tw, 0), min(p1 - ti * tw, tw)


@helper(inline=True)
def _padded_rows(x, c, r0, c0, dst):
    """dst[k] = row r0 + k of channel c of the zero-padded input, columns c0 … c0 + (dst's width)/N − 1, read
    from the unpadded ``x`` (C, H, W, N): zeros where the row or column falls outside the image."""
    h, w, n = x.shape[1], x.shape[2], x.shape[3]
    width = dst.shape[1]
    first = min(max(0, -c0), width // n) * n       # the zero columns on the left, in elements
    last = max(min(width // n, w - c0), 0) * n     # the end of the image's columns, in elements
    shift = c0 * n                                 # column c0's first element in an image row
    zero = np.float32(0.0)
    for k in range(dst.shape[0]):
        row = dst[k]
        rr = r0 + k
        if rr < 0 or rr >= h or last <= first:
            for i in range(width):
                row[i] = zero
            continue
        src = x[c, rr].ravel()
        for i in range(first):
            row[i] = zero
        for i in range(first, last):
            row[i] = src[i + shift]
        for i in range(last, width):
            row[i] = zero


@kernel(parallel=True, parallel_from=1)
def _input_transform(x, flat, plane, tw, p0, p1, ph, pw):
    c_count, n = x.shape[0], x.shape[3]
    t_count = (p1 - p0) * n
    row_count = _row_count(p0, p1, tw)
    for job in prange(c_count * row_count):
        c = job // row_count
        ti, tj0, tj1 = _row_span(job % row_count, p0, p1, tw)
        width = (4 * (tj1 - tj0) + 2) * n
        d = np.empty((6, width), np.float32)  # the tile row's six input rows, zero-padded
        _padded_rows(x, c, 4 * ti - ph, 4 * tj0 - pw, d)
        rows = np.empty((6, width), np.float32)  # Bᵀ d along the whole tile row
        for a in range(6):
            _bt(rows[a], a, d[0], d[1], d[2], d[3], d[4], d[5])
        out0 = c * t_count + (ti * tw + tj0 - p0) * n
        for a in range(6):
            row = rows[a]
            for b in range(6):  # (Bᵀ d) B: column b of each tile
                out = (6 * a + b) * plane + out0
                for k in range(tj1 - tj0):
                    s = 4 * k * n
                    _bt(flat[out + k * n:out + (k + 1) * n], b, row[s:s + n], row[s + n:s + 2 * n],
                        row[s + 2 * n:s + 3 * n], row[s + 3 * n:s + 4 * n], row[s + 4 * n:s + 5 * n],
                        row[s + 5 * n:s + 6 * n])


def input_transform(x: np.ndarray, th: int, tw: int, out: np.ndarray, p0: int = 0, p1=None,
                    pad=(0, 0)) -> np.ndarray:
    """V = Bᵀ d B of the tiles at positions p0…p1 (default: all th·tw) of the input ``x`` (C, H, W, N) zero-padded
    by ``pad`` = (ph, pw) at the top and left and as far as the tiles reach at the bottom and right (the padding
    is read as zeros, never stored), into ``out`` (36, C, (p1 − p0)·N). With the default ``pad``, ``x`` may
    be an input padded already."""
    p0, p1, flat, plane = check_positions(th, tw, p0, p1, out, x.shape[3])
    _input_transform(np.ascontiguousarray(x), flat, plane, np.int64(tw), p0, p1, np.int64(pad[0]),
                     np.int64(pad[1]))
    return out


@kernel(parallel=True, parallel_from=1)
def _output_transform(flat, plane, y, tw, p0, p1):
    o_count, ho, wo, n = y.shape
    t_count = (p1 - p0) * n
    row_count = _row_count(p0, p1, tw)
    for job in prange(o_count * row_count):
        o = job // row_count
        ti, tj0, tj1 = _row_span(job % row_count, p0, p1, tw)
        width = (tj1 - tj0) * n
        cols = np.empty((6, width), np.float32)
        m0 = o * t_count + (ti * tw + tj0 - p0) * n
        for a in range(4):
            r = 4 * ti + a
            if r >= ho:
                break
            for b in range(6):  # row a of Aᵀ M, column b: from the planes 6k + b, k = 0…5
                q = b * plane + m0
                _at(cols[b], a, flat[q:q + width], flat[q + 6 * plane:q + 6 * plane + width],
                    flat[q + 12 * plane:q + 12 * plane + width], flat[q + 18 * plane:q + 18 * plane + width],
                    flat[q + 24 * plane:q + 24 * plane + width], flat[q + 30 * plane:q + 30 * plane + width])
            y_row = y[o, r].ravel()
            for k in range(tj1 - tj0):  # (Aᵀ M) A: four columns per tile
                lo = k * n
                for j in range(min(4, wo - 4 * (tj0 + k))):
                    s = (4 * (tj0 + k) + j) * n
                    _at(y_row[s:s + n], j, cols[0, lo:lo + n], cols[1, lo:lo + n], cols[2, lo:lo + n],
                        cols[3, lo:lo + n], cols[4, lo:lo + n], cols[5, lo:lo + n])


def output_transform(m: np.ndarray, th: int, tw: int, out: np.ndarray, p0: int = 0, p1=None) -> np.ndarray:
    """Y = Aᵀ M A of the tiles at positions p0…p1 (default: all) from ``m`` (36, O, (p1 − p0)·N) into their
    places in ``out`` (O, Hₒ, Wₒ, N), dropping the parts of last tiles beyond the edges."""
    p0, p1, flat, plane = check_positions(th, tw, p0, p1, m, out.shape[3])
    _output_transform(flat, plane, out, np.int64(tw), p0, p1)
    return out


@kernel(parallel=True, parallel_from=1)
def _output_grad_transform(g, flat, plane, tw, p0, p1):
    o_count, ho, wo, n = g.shape
    t_count = (p1 - p0) * n
    row_count = _row_count(p0, p1, tw)
    for job in prange(o_count * row_count):
        o = job // row_count
        ti, tj0, tj1 = _row_span(job % row_count, p0, p1, tw)
        lo = 4 * tj0 * n
        width = 4 * (tj1 - tj0) * n
        inside = (min(4 * tj1, wo) - 4 * tj0) * n  # the rest (a last part tile's columns) is zero
        grows = np.zeros((4, width), np.float32)
        for i in range(min(4, ho - 4 * ti)):
            g_row = g[o, 4 * ti + i].ravel()[lo:lo + inside]
            dst = grows[i]
            for x in range(inside):
                dst[x] = g_row[x]
        q = np.empty(width, np.float32)
        out0 = o * t_count + (ti * tw + tj0 - p0) * n
        for a in range(6):  # row a of A g
            _a(q, a, grows[0], grows[1], grows[2], grows[3])
            for b in range(6):  # its columns through A
                out = (6 * a + b) * plane + out0
                for k in range(tj1 - tj0):
                    s = 4 * k * n
                    _a(flat[out + k * n:out + (k + 1) * n], b, q[s:s + n], q[s + n:s + 2 * n],
                       q[s + 2 * n:s + 3 * n], q[s + 3 * n:s + 4 * n])


def output_grad_transform(g: np.ndarray, th: int, tw: int, out: np.ndarray, p0: int = 0, p1=None) -> np.ndarray:
    """dM = A g Aᵀ of the tiles at positions p0…p1 (default: all) of the output gradient ``g`` (O, Hₒ, Wₒ, N)
    into ``out`` (36, O, (p1 − p0)·N)."""
    p0, p1, flat, plane = check_positions(th, tw, p0, p1, out, g.shape[3])
    _output_grad_transform(g, flat, plane, np.int64(tw), p0, p1)
    return out


@kernel(parallel=True, parallel_from=1)
def _input_grad_transform(flat, plane, gx, tw, p0, p1, ph, pw):
    c_count, h, w, n = gx.shape
    t_count = (p1 - p0) * n
    row_count = _row_count(p0, p1, tw)
    for c in prange(c_count):  # a channel's tiles overlap, so one thread owns each channel
        part = np.empty(n, np.float32)
        for k_row in range(row_count):
            ti, tj0, tj1 = _row_span(k_row, p0, p1, tw)
            width = (tj1 - tj0) * n
            e = np.empty((6, width), np.float32)
            x0 = c * t_count + (ti * tw + tj0 - p0) * n
            for k in range(6):  # padded row 4ti + k of the tiles: row k of B dV, column b from planes 6a + b
                r = 4 * ti + k - ph
                if r < 0 or r >= h:  # a row of the padding: its gradient is dropped
                    continue
                for b in range(6):
                    q = b * plane + x0
                    _b(e[b], k, flat[q:q + width], flat[q + 6 * plane:q + 6 * plane + width],
                       flat[q + 12 * plane:q + 12 * plane + width], flat[q + 18 * plane:q + 18 * plane + width],
                       flat[q + 24 * plane:q + 24 * plane + width], flat[q + 30 * plane:q + 30 * plane + width])
                g_row = gx[c, r].ravel()
                for t in range(tj1 - tj0):  # (B dV) Bᵀ: column l of each tile, added onto its place
                    lo, s = t * n, 4 * (tj0 + t) - pw
                    for j in range(6):
                        if s + j < 0 or s + j >= w:
                            continue
                        _b(part, j, e[0, lo:lo + n], e[1, lo:lo + n], e[2, lo:lo + n], e[3, lo:lo + n],
                           e[4, lo:lo + n], e[5, lo:lo + n])
                        dst = g_row[(s + j) * n:(s + j + 1) * n]
                        for i in range(n):
                            dst[i] += part[i]


def input_grad_transform(dv: np.ndarray, th: int, tw: int, gx: np.ndarray, p0: int = 0, p1=None,
                         pad=(0, 0)) -> np.ndarray:
    """Add B dV Bᵀ of the tiles at positions p0…p1 (default: all) from ``dv`` (36, C, (p1 − p0)·N) onto the input
    gradient ``gx`` (C, H, W, N), zeroed before the first call, C-contiguous: the gradient of the input that
    :func:`input_transform` read with the same ``pad`` (what falls on the padding is dropped)."""
    p0, p1, flat, plane = check_positions(th, tw, p0, p1, dv, gx.shape[3])
    if not gx.flags.c_contiguous:
        raise ValueError("input_grad_transform adds onto a C-contiguous gradient array")
    _input_grad_transform(flat, plane, gx, np.int64(tw), p0, p1, np.int64(pad[0]), np.int64(pad[1]))
    return gx


#: This module's F(4×4, 3×3) as a transform scheme (the interface of :data:`descend.kernels.winograd.SCHEME`).
#: ``reads_unpadded``: its input transform reads the unpadded input, taking the padding as zeros, and its input
#: gradient transform adds onto an unpadded gradient (``pad`` arguments).
SCHEME = types.SimpleNamespace(m=4, planes=36, reads_unpadded=True, tiles=tiles,
                               weight_transform=weight_transform, weight_grad=weight_grad,
                               input_transform=input_transform, output_transform=output_transform,
                               output_grad_transform=output_grad_transform, input_grad_transform=input_grad_transform)
