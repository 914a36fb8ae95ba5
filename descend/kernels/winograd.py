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
than kept, so the memory a convolution holds stays that of its input. Every transform takes a range of tile
positions p0…p1, so that a caller can run transform, products and transform back on a range whose planes
fit in cache (:mod:`descend.ops.conv_winograd`).

Images are batch-innermost, (C, H, W, N) in memory (see :mod:`descend.ops.conv`); tiles are numbered
(tile row, tile column, sample) with the sample innermost, so each kernel's inner loop runs along N over
contiguous memory. The transforms' coefficients are 0, ±1 and ±½, so they add rounding only through sums of
at most 16 terms; the result's difference from the direct product is measured in the tests against float64.
"""

from __future__ import annotations

import types

import numpy as np

from . import helper, kernel, prange

__all__ = ["weight_transform", "weight_grad", "input_transform", "output_transform", "output_grad_transform",
           "input_grad_transform", "tiles", "check_positions",
           "SCHEME"]

_G = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]])


def tiles(size: int) -> int:
    """Number of 2-wide output tiles covering ``size`` outputs."""
    return (size + 1) // 2


@helper
def _g_side(x0, x1, x2):
    """G x for a column (x0, x1, x2) of a filter: (x0, ½(x0 + x1 + x2), ½(x0 − x1 + x2), x2)."""
    return x0, 0.5 * (x0 + x1 + x2), 0.5 * (x0 - x1 + x2), x2


@helper
def _gt_side(y0, y1, y2, y3):
    """Gᵀ y for a column (y0, y1, y2, y3) of a transformed tile:
    (y0 + ½y1 + ½y2, ½y1 − ½y2, ½y1 + ½y2 + y3)."""
    return y0 + 0.5 * y1 + 0.5 * y2, 0.5 * y1 - 0.5 * y2, 0.5 * y1 + 0.5 * y2 + y3


@helper
def _store_row(t, row, x0, x1, x2):
    """Row ``row`` of (G w) Gᵀ from row (x0, x1, x2) of G w, into t[4·row … 4·row + 3]."""
    t[4 * row], t[4 * row + 1], t[4 * row + 2], t[4 * row + 3] = _g_side(x0, x1, x2)


@kernel
def _weight_transform(w, tiles):
    o_count, c_count = w.shape[0], w.shape[1]
    for o in range(o_count):
        for c in range(c_count):
            f, t = w[o, c], tiles[o, c]
            # G w: the filter's columns through G (float64, then each product rounded once to float32)
            a0, a1, a2, a3 = _g_side(np.float64(f[0, 0]), np.float64(f[1, 0]), np.float64(f[2, 0]))
            b0, b1, b2, b3 = _g_side(np.float64(f[0, 1]), np.float64(f[1, 1]), np.float64(f[2, 1]))
            c0, c1, c2, c3 = _g_side(np.float64(f[0, 2]), np.float64(f[1, 2]), np.float64(f[2, 2]))
            # (G w) Gᵀ: each of its rows through G
            _store_row(t, 0, a0, b0, c0)
            _store_row(t, 1, a1, b1, c1)
            _store_row(t, 2, a2, b2, c2)
            _store_row(t, 3, a3, b3, c3)


@helper
def _dU_column(du, b, o, c):
    """Gᵀ applied to column b of the transformed tile dU[·, o, c] (rows a = 0…3 at planes 4a + b)."""
    return _gt_side(np.float64(du[b, o, c]), np.float64(du[4 + b, o, c]), np.float64(du[8 + b, o, c]),
                    np.float64(du[12 + b, o, c]))


@kernel
def _weight_grad(du, g):
    o_count, c_count = du.shape[1], du.shape[2]
    for o in range(o_count):
        for c in range(c_count):
            # Gᵀ dU: the columns of dU through Gᵀ (float64), then each of the three rows through Gᵀ
            p0, p1, p2 = _dU_column(du, 0, o, c)
            q0, q1, q2 = _dU_column(du, 1, o, c)
            r0, r1, r2 = _dU_column(du, 2, o, c)
            s0, s1, s2 = _dU_column(du, 3, o, c)
            out = g[o, c]
            out[0, 0], out[0, 1], out[0, 2] = _gt_side(p0, q0, r0, s0)
            out[1, 0], out[1, 1], out[1, 2] = _gt_side(p1, q1, r1, s1)
            out[2, 0], out[2, 1], out[2, 2] = _gt_side(p2, q2, r2, s2)


def weight_transform(w: np.ndarray) -> np.ndarray:
    """U = G w Gᵀ for w (O, C, 3, 3): (16, O, C) float32, position (a, b) at index 4a + b (computed in float64)."""
    tiles = np.empty((w.shape[0], w.shape[1], 16), np.float32)  # each filter's 16 values side by side, ...
    _weight_transform(np.ascontiguousarray(w, dtype=np.float32), tiles)
    return np.ascontiguousarray(np.moveaxis(tiles, 2, 0))  # ... then as 16 planes


def weight_grad(du: np.ndarray, o: int, c: int) -> np.ndarray:
    """dL/dw = Gᵀ dU G from dU (16, O, C): (O, C, 3, 3) float32 (computed in float64)."""
    g = np.empty((o, c, 3, 3), np.float32)
    _weight_grad(np.ascontiguousarray(du.reshape(16, o, c), dtype=np.float32), g)
    return g


#: Bᵀ's rows as (first, second, sign): row a of Bᵀ d is d[first] + sign·d[second], and as B is applied on
#: both sides, column b of (Bᵀ d) B is the same combination of the columns. Multiplying by ±1 is exact, so
#: these are the same floats as the sums written out term by term.
_BT_ROWS = np.array([[0, 2, -1], [1, 2, 1], [2, 1, -1], [1, 3, -1]], dtype=np.int64)

# How the kernels run fast. Written out term by term over the 16 planes, a transform's inner loop does not
# vectorise (16 streams of one array, more possible overlaps than the compiler checks), and its 16 planes of
# all T tiles (4× the input) go through main memory. Here every inner loop runs along the samples of a tile
# with one store stream and one to three load streams, first between a tile row of the image and a small
# row buffer, then between the buffer and the planes; and the callers transform a range of tile positions
# at a time (``p0``…``p1``, a tile position being (tile row, tile column) with its N samples), small enough
# for the planes to stay in cache between the transform and the products. Indices come from ranges or
# slices starting at 0, so the compiler adds no negative-index checks (which also stop vectorisation).


@helper
def _row_count(p0, p1, tw):
    """How many tile rows the tile positions p0…p1 touch (tw tiles to a row)."""
    return (p1 - 1) // tw - p0 // tw + 1


@helper
def _row_span(k, p0, p1, tw):
    """The k-th tile row the positions p0…p1 touch: its index ti and the range tj0…tj1 of its tile columns."""
    ti = p0 // tw + k
    return ti, max(p0 - ti * tw, 0), min(p1 - ti * tw, tw)


@kernel(parallel=True, parallel_from=1)
def _input_transform(xp, flat, plane, tw, p0, p1, rows):
    c_count, _, _, n_count = xp.shape
    t_count = (p1 - p0) * n_count
    row_count = _row_count(p0, p1, tw)
    for job in prange(c_count * row_count):
        c = job // row_count
        ti, tj0, tj1 = _row_span(job % row_count, p0, p1, tw)
        r = 2 * ti
        lo = 2 * tj0 * n_count
        width = (2 * (tj1 - tj0) + 2) * n_count
        out0 = c * t_count + (ti * tw + tj0 - p0) * n_count
        for a in range(4):  # plane (a, b): column b of row a of Bᵀ d, both sums formed along the samples
            first = xp[c, r + rows[a, 0]].ravel()[lo:lo + width]
            second = xp[c, r + rows[a, 1]].ravel()[lo:lo + width]
            sign = np.float32(rows[a, 2])
            for b in range(4):
                sign_b = np.float32(rows[b, 2])
                out = (4 * a + b) * plane + out0
                for k in range(tj1 - tj0):
                    dst = flat[out + k * n_count:out + (k + 1) * n_count]
                    i0 = (2 * k + rows[b, 0]) * n_count
                    i1 = (2 * k + rows[b, 1]) * n_count
                    f0 = first[i0:i0 + n_count]
                    s0 = second[i0:i0 + n_count]
                    f1 = first[i1:i1 + n_count]
                    s1 = second[i1:i1 + n_count]
                    for n in range(n_count):
                        dst[n] = (f0[n] + sign * s0[n]) + sign_b * (f1[n] + sign * s1[n])


def _flat_planes(planes: np.ndarray):
    """(a 1-D view from the first element of ``planes`` (P, R, T) to its last, elements between planes) for a
    planes array whose rows are contiguous and one after another (its planes may lie further apart)."""
    rows, cols = planes.shape[1:]
    if planes.dtype != np.float32:
        raise TypeError(f"transformed tiles must be float32, got {planes.dtype}")
    if planes.flags.c_contiguous:
        return planes.reshape(-1), np.int64(rows * cols)
    if planes.strides[1:] != (4 * cols, 4) or planes.strides[0] % 4:
        raise ValueError(f"transformed tiles must be planes of contiguous rows, got strides {planes.strides}")
    plane = planes.strides[0] // 4
    flat = np.lib.stride_tricks.as_strided(planes, ((planes.shape[0] - 1) * plane + rows * cols,), (4,),
                                           writeable=True)
    return flat, np.int64(plane)


def _no_padding(pad) -> None:
    if tuple(pad) != (0, 0):
        raise ValueError(f"F(2×2, 3×3) transforms read a padded input (pad_to_tiles); got pad={tuple(pad)}, "
                         "expected (0, 0)")


def check_positions(th: int, tw: int, p0: int, p1, planes: np.ndarray, n: int) -> tuple:
    """(p0, p1, ``planes`` as a flat view, elements between planes) for a transform's call on the tile positions
    p0…p1 (None: th·tw) of ``planes`` (P, rows, (p1 − p0)·n), checked."""
    p1 = th * tw if p1 is None else p1
    if not 0 <= p0 < p1 <= th * tw:
        raise ValueError(f"tile positions {p0}…{p1} must satisfy 0 <= p0 < p1 <= {th * tw} (th·tw)")
    if planes.shape[2] != (p1 - p0) * n:
        raise ValueError(f"planes hold {planes.shape[2]} tiles, expected (p1 - p0)·N = {(p1 - p0) * n}")
    return (np.int64(p0), np.int64(p1)) + _flat_planes(planes)


def input_transform(xp: np.ndarray, th: int, tw: int, out: np.ndarray, p0: int = 0, p1=None,
                    pad=(0, 0)) -> np.ndarray:
    """V = Bᵀ d B of the tiles at positions p0…p1 (default: all th·tw) of the padded input ``xp``
    (C, ≥2th+2, ≥2tw+2, N) into ``out`` (16, C, (p1 − p0)·N). ``pad`` must be (0, 0): this scheme reads a
    padded input (the interface of :data:`descend.kernels.winograd4.SCHEME`, whose transform pads as it
    reads)."""
    _no_padding(pad)
    p0, p1, flat, plane = check_positions(th, tw, p0, p1, out, xp.shape[3])
    _input_transform(xp, flat, plane, np.int64(tw), p0, p1, _BT_ROWS)
    return out


@kernel(parallel=True, parallel_from=1)
def _output_transform(flat, plane, y, tw, p0, p1):
    o_count, ho, wo, n_count = y.shape
    t_count = (p1 - p0) * n_count
    row_count = _row_count(p0, p1, tw)
    for job in prange(o_count * row_count):
        o = job // row_count
        ti, tj0, tj1 = _row_span(job % row_count, p0, p1, tw)
        width = (tj1 - tj0) * n_count
        col = np.empty((4, width), np.float32)
        m0 = o * t_count + (ti * tw + tj0 - p0) * n_count
        for a in range(2):
            r = 2 * ti + a
            if r >= ho:
                break
            for b in range(4):  # column b of row a of Aᵀ M: M[b] + M[4+b] + M[8+b], or M[4+b] − M[8+b] − M[12+b]
                x0 = flat[(4 * a + b) * plane + m0:(4 * a + b) * plane + m0 + width]
                x1 = flat[(4 * a + b + 4) * plane + m0:(4 * a + b + 4) * plane + m0 + width]
                x2 = flat[(4 * a + b + 8) * plane + m0:(4 * a + b + 8) * plane + m0 + width]
                dst = col[b]
                if a == 0:
                    for i in range(width):
                        dst[i] = x0[i] + x1[i] + x2[i]
                else:
                    for i in range(width):
                        dst[i] = x0[i] - x1[i] - x2[i]
            # (Aᵀ M) A: two columns per tile
            y_row = y[o, r].ravel()
            for k in range(tj1 - tj0):
                s = 2 * (tj0 + k)
                c0 = col[0, k * n_count:(k + 1) * n_count]
                c1 = col[1, k * n_count:(k + 1) * n_count]
                c2 = col[2, k * n_count:(k + 1) * n_count]
                c3 = col[3, k * n_count:(k + 1) * n_count]
                left = y_row[s * n_count:(s + 1) * n_count]
                for n in range(n_count):
                    left[n] = c0[n] + c1[n] + c2[n]
                if s + 1 < wo:
                    right = y_row[(s + 1) * n_count:(s + 2) * n_count]
                    for n in range(n_count):
                        right[n] = c1[n] - c2[n] - c3[n]


def output_transform(m: np.ndarray, th: int, tw: int, out: np.ndarray, p0: int = 0, p1=None) -> np.ndarray:
    """Y = Aᵀ M A of the tiles at positions p0…p1 (default: all) from ``m`` (16, O, (p1 − p0)·N) into their
    places in ``out`` (O, Hₒ, Wₒ, N), dropping a last half tile."""
    p0, p1, flat, plane = check_positions(th, tw, p0, p1, m, out.shape[3])
    _output_transform(flat, plane, out, np.int64(tw), p0, p1)
    return out


@kernel(parallel=True, parallel_from=1)
def _output_grad_transform(g, flat, plane, tw, p0, p1):
    o_count, ho, wo, n_count = g.shape
    t_count = (p1 - p0) * n_count
    row_count = _row_count(p0, p1, tw)
    for job in prange(o_count * row_count):
        o = job // row_count
        ti, tj0, tj1 = _row_span(job % row_count, p0, p1, tw)
        r = 2 * ti
        lo = 2 * tj0 * n_count
        width = 2 * (tj1 - tj0) * n_count
        inside = (min(2 * tj1, wo) - 2 * tj0) * n_count  # the rest (a last half tile's column) is zero
        top = np.zeros(width, np.float32)
        bottom = np.zeros(width, np.float32)
        g_top = g[o, r].ravel()[lo:lo + inside]
        for i in range(inside):
            top[i] = g_top[i]
        if r + 1 < ho:
            g_bottom = g[o, r + 1].ravel()[lo:lo + inside]
            for i in range(inside):
                bottom[i] = g_bottom[i]
        q = np.empty(width, np.float32)
        out0 = o * t_count + (ti * tw + tj0 - p0) * n_count
        for a in range(4):  # row a of A g: g0, g0 + g1, g0 − g1, −g1 (rows of the 2×2 tile)
            if a == 0:
                for i in range(width):
                    q[i] = top[i]
            elif a == 1:
                for i in range(width):
                    q[i] = top[i] + bottom[i]
            elif a == 2:
                for i in range(width):
                    q[i] = top[i] - bottom[i]
            else:
                for i in range(width):
                    q[i] = -bottom[i]
            for b in range(4):  # its columns: q0, q0 + q1, q0 − q1, −q1
                out = (4 * a + b) * plane + out0
                for k in range(tj1 - tj0):
                    dst = flat[out + k * n_count:out + (k + 1) * n_count]
                    q0 = q[2 * k * n_count:(2 * k + 1) * n_count]
                    q1 = q[(2 * k + 1) * n_count:(2 * k + 2) * n_count]
                    if b == 0:
                        for n in range(n_count):
                            dst[n] = q0[n]
                    elif b == 1:
                        for n in range(n_count):
                            dst[n] = q0[n] + q1[n]
                    elif b == 2:
                        for n in range(n_count):
                            dst[n] = q0[n] - q1[n]
                    else:
                        for n in range(n_count):
                            dst[n] = -q1[n]


def output_grad_transform(g: np.ndarray, th: int, tw: int, out: np.ndarray, p0: int = 0, p1=None) -> np.ndarray:
    """dM = A g Aᵀ of the tiles at positions p0…p1 (default: all) of the output gradient ``g`` (O, Hₒ, Wₒ, N)
    into ``out`` (16, O, (p1 − p0)·N)."""
    p0, p1, flat, plane = check_positions(th, tw, p0, p1, out, g.shape[3])
    _output_grad_transform(g, flat, plane, np.int64(tw), p0, p1)
    return out


@kernel(parallel=True, parallel_from=1)
def _input_grad_transform(flat, plane, gxp, tw, p0, p1):
    c_count, _, _, n_count = gxp.shape
    t_count = (p1 - p0) * n_count
    row_count = _row_count(p0, p1, tw)
    for c in prange(c_count):  # a channel's tiles overlap, so one thread owns each channel
        for k_row in range(row_count):
            ti, tj0, tj1 = _row_span(k_row, p0, p1, tw)
            width = (tj1 - tj0) * n_count
            e = np.empty((4, width), np.float32)
            x0 = c * t_count + (ti * tw + tj0 - p0) * n_count
            for a in range(4):
                # row a of B dV, column b: x0b; x1b − x2b + x3b; −x0b + x1b + x2b; −x3b (xab = plane 4a + b)
                for b in range(4):
                    dst = e[b]
                    if a == 0 or a == 3:
                        src = flat[(12 * (a // 3) + b) * plane + x0:(12 * (a // 3) + b) * plane + x0 + width]
                        if a == 0:
                            for i in range(width):
                                dst[i] = src[i]
                        else:
                            for i in range(width):
                                dst[i] = -src[i]
                    else:
                        s0 = flat[b * plane + x0:b * plane + x0 + width]
                        s1 = flat[(4 + b) * plane + x0:(4 + b) * plane + x0 + width]
                        s2 = flat[(8 + b) * plane + x0:(8 + b) * plane + x0 + width]
                        if a == 1:
                            s3 = flat[(12 + b) * plane + x0:(12 + b) * plane + x0 + width]
                            for i in range(width):
                                dst[i] = s1[i] - s2[i] + s3[i]
                        else:
                            for i in range(width):
                                dst[i] = -s0[i] + s1[i] + s2[i]
                # (B dV) Bᵀ: columns e0; e1 − e2 + e3; −e0 + e1 + e2; −e3, added onto row 2ti + a of the tile
                g_row = gxp[c, 2 * ti + a].ravel()
                for k in range(tj1 - tj0):
                    s = 2 * (tj0 + k)
                    e0 = e[0, k * n_count:(k + 1) * n_count]
                    e1 = e[1, k * n_count:(k + 1) * n_count]
                    e2 = e[2, k * n_count:(k + 1) * n_count]
                    e3 = e[3, k * n_count:(k + 1) * n_count]
                    g0 = g_row[s * n_count:(s + 1) * n_count]
                    g1 = g_row[(s + 1) * n_count:(s + 2) * n_count]
                    g2 = g_row[(s + 2) * n_count:(s + 3) * n_count]
                    g3 = g_row[(s + 3) * n_count:(s + 4) * n_count]
                    for n in range(n_count):
                        g0[n] += e0[n]
                    for n in range(n_count):
                        g1[n] += e1[n] - e2[n] + e3[n]
                    for n in range(n_count):
                        g2[n] += -e0[n] + e1[n] + e2[n]
                    for n in range(n_count):
                        g3[n] += -e3[n]


def input_grad_transform(dv: np.ndarray, th: int, tw: int, gxp: np.ndarray, p0: int = 0, p1=None,
                         pad=(0, 0)) -> np.ndarray:
    """Add B dV Bᵀ of the tiles at positions p0…p1 (default: all) from ``dv`` (16, C, (p1 − p0)·N) onto the
    padded input gradient ``gxp`` (C, ≥2th+2, ≥2tw+2, N), zeroed before the first call (``pad``: (0, 0), as
    for :func:`input_transform`)."""
    _no_padding(pad)
    p0, p1, flat, plane = check_positions(th, tw, p0, p1, dv, gxp.shape[3])
    _input_grad_transform(flat, plane, gxp, np.int64(tw), p0, p1)
    return gxp


#: This module's F(2×2, 3×3) as a transform scheme: output tile m, the (m + 2)² planes of a transformed tile,
#: and the transforms, the interface :data:`descend.kernels.winograd4.SCHEME` also has (``reads_unpadded`` False:
#: its transforms read a padded input, :func:`descend.ops.conv_winograd.pad_to_tiles`, and add onto a padded
#: gradient).
SCHEME = types.SimpleNamespace(m=2, planes=16, reads_unpadded=False, tiles=tiles,
                               weight_transform=weight_transform, weight_grad=weight_grad,
                               input_transform=input_transform, output_transform=output_transform,
                               output_grad_transform=output_grad_transform, input_grad_transform=input_grad_transform)
