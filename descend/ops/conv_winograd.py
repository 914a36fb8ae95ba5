"""The Winograd route of :func:`descend.ops.conv.conv2d`: 3×3, stride 1, dilation 1, float32 convolutions.

Two schemes compute it: F(4×4, 3×3) (:mod:`descend.kernels.winograd4`: 36 planes per 6×6 input tile, 2.25
multiplications per output and channel pair) where whole 4×4 output tiles fit the output, else F(2×2, 3×3)
(:mod:`descend.kernels.winograd`: 16 planes per 4×4 tile, 4 multiplications); :func:`scheme` chooses. F(4×4,
3×3) measured faster on every shape with enough tiles (0.64–0.79 of F(2×2, 3×3)'s time; W10 went from 0.65 to
0.94× PyTorch's speed, W8 from 1.03 to 1.46×; docs/kernels.md, docs/bench.md) and rounds several times more
(2.8·10⁻⁶ against 3.2·10⁻⁷ of the output's scale, measured in the tests; float32-sized).

The arithmetic (transforms, the channel products' planes, their transposes) is in those kernel modules; this
module lays out the arrays: the zero-padded batch-innermost input, padded further at the bottom and right to
whole m×m output tiles, and the buffers of the transformed tiles, which it fills a range of tile positions at
a time (:data:`CHUNK_BYTES`): transform, α² products, transform back while the range's planes are in cache,
instead of the planes of every tile (4× the input for F(2×2, 3×3), 64 MiB for W8's first 32-channel layer)
through main memory. The route is taken with the compiled kernels on, and enough input channels for the
products (inner dimension C) to run at matrix-product speed — with few channels the im2col product (inner
dimension 9C) is faster.
"""

from __future__ import annotations

import threading

import numpy as np

from .. import buffers, kernels
from ..kernels import panels, threads, winograd as K, winograd4

__all__ = ["applies", "scheme", "pad_to_tiles", "transform_input", "forward", "backward", "MIN_CHANNELS", "MIN_TILES",
           "F2", "F4"]

#: Input channels from which the Winograd route is taken (measured on the benchmark CNNs; see docs/bench.md).
MIN_CHANNELS = 16
#: Tiles of 2×2 outputs over the batch from which either scheme is taken (4·MIN_TILES computed outputs): below,
#: the products are too small. F(4×4, 3×3)'s products have a quarter as many columns at the same size and
#: still measured faster than F(2×2, 3×3)'s down to this size (docs/kernels.md).
MIN_TILES = 1024
#: The share of computed outputs a route may discard (measured: an 11×11 output, 19 % discarded, ran
#: slower than im2col; even sizes discard nothing).
MAX_WASTE = 0.1


#: The two schemes: F(2×2, 3×3) (:mod:`descend.kernels.winograd`) and F(4×4, 3×3)
#: (:mod:`descend.kernels.winograd4`).
F2, F4 = K.SCHEME, winograd4.SCHEME


def applies(x: np.ndarray, w: np.ndarray, stride, padding, dilation) -> bool:
    """Whether conv2d of ``x`` (N, C, H, W) with ``w`` (O, C, kh, kw) takes the Winograd route."""
    return scheme(x, w, stride, padding, dilation) is not None


def scheme(x: np.ndarray, w: np.ndarray, stride, padding, dilation):
    """The Winograd scheme conv2d of ``x`` (N, C, H, W) with ``w`` (O, C, kh, kw) takes (:data:`F4` where its
    tiles fit, else :data:`F2`), or None for the im2col route."""
    if not (w.shape[2] == 3 and w.shape[3] == 3 and tuple(stride) == (1, 1) and tuple(dilation) == (1, 1)
            and x.dtype == np.float32 and w.dtype == np.float32 and x.shape[1] >= MIN_CHANNELS
            and kernels.enabled()):
        return None
    for candidate in (F4, F2):
        if _tiles_fit(x.shape, padding, candidate):
            return candidate
    return None


def _tiles_fit(x_shape, padding, s) -> bool:
    """Enough tiles for the products, and whole m×m tiles of scheme ``s`` wasting at most :data:`MAX_WASTE` of
    the outputs (an output size that is not a multiple of m computes a last part tile and drops the rest)."""
    n, _, h, w = x_shape
    ho, wo = h + 2 * padding[0] - 2, w + 2 * padding[1] - 2
    if ho < 1 or wo < 1:
        return False
    th, tw = s.tiles(ho), s.tiles(wo)
    return n * th * tw * s.m * s.m >= 4 * MIN_TILES and s.m * s.m * th * tw <= (1 + MAX_WASTE) * ho * wo


def pad_to_tiles(xm: np.ndarray, ph: int, pw: int, ho: int, wo: int, s) -> np.ndarray:
    """The batch-innermost input (C, H, W, N) zero-padded by (ph, pw) and to whole m×m tiles of scheme ``s``:
    (C, m·tₕ + 2, m·t_w + 2, N)."""
    c, h, w, n = xm.shape
    th, tw = s.tiles(ho), s.tiles(wo)
    xp = buffers.empty((c, s.m * th + 2, s.m * tw + 2, n), xm.dtype)
    # zero only the border, then copy the interior
    xp[:, :ph] = 0
    xp[:, ph + h:] = 0
    xp[:, ph:ph + h, :pw] = 0
    xp[:, ph:ph + h, pw + w:] = 0
    xp[:, ph:ph + h, pw:pw + w] = xm
    return xp


def transform_input(xm: np.ndarray, ph: int, pw: int, ho: int, wo: int, s) -> tuple:
    """(the array scheme ``s``'s input transform reads, the padding it applies as it reads) for the
    batch-innermost input ``xm`` (C, H, W, N): ``xm`` itself (C-contiguous) and (ph, pw) for a scheme that
    ``reads_unpadded`` (no padded copy is made: the transform reads the padding as zeros), else
    :func:`pad_to_tiles`'s copy and (0, 0)."""
    if s.reads_unpadded:
        return np.ascontiguousarray(xm), (ph, pw)
    return pad_to_tiles(xm, ph, pw, ho, wo, s), (0, 0)


#: Bytes of transformed tiles (the input's and the output's 16 planes together) one pass over a range of tile
#: positions works on, shared by the threads that run at once: small enough to stay in cache from the transform
#: to the products to the transform back (measured on W8's and W10's convolutions; docs/kernels.md).
CHUNK_BYTES = 1 << 23


#: Whether :func:`forward` keeps the transformed input V (2.25× the input for F(4×4, 3×3)) for the weight
#: gradient, when asked to and V is at most :data:`KEEP_BYTES`, instead of :func:`backward` transforming the
#: input again.
KEEP_INPUT = True
#: The largest V kept (bytes). Measured on two cores, descend's step alternating in one process: W10, whose
#: six Winograd layers have 4.7 MB of V each, 37.6-37.8 -> 32.7-33.9 ms; W8, whose 32×32 and 16×16 layers have
#: 19-38 MB, no faster (86-96 ms either way) and 37 MiB more at its peak. A large V comes back from main
#: memory, where the rebuilt one stays in cache range by range.
KEEP_BYTES = 16 << 20


def _chunks(th: int, tw: int, n: int, channels: int, share: int = 1, planes: int = 16) -> list:
    """Tile-position ranges (p0, p1) covering all th·tw positions, each of at most :data:`CHUNK_BYTES` / ``share``
    of ``planes`` planes of ``channels`` float32 rows (at least one position), as many as a multiple of
    ``share`` threads where the positions allow, of near-equal size (:func:`~descend.kernels.threads.even_ranges`)."""
    per_position = planes * channels * n * 4
    total = th * tw
    return threads.even_ranges(total, -(-total // max(1, CHUNK_BYTES // share // per_position)), share)


def _plan(th: int, tw: int, n: int, channels: int, planes: int):
    """(threads to use, the ranges): one thread per BLAS thread (:func:`descend.kernels.threads.share_count`),
    at most one per range, each range sized so that all threads' planes together stay within
    :data:`CHUNK_BYTES`."""
    count = threads.share_count()
    ranges = _chunks(th, tw, n, channels, count, planes)
    return min(count, len(ranges)), ranges


def forward(xp: np.ndarray, w: np.ndarray, ho: int, wo: int, s, keep: bool = False, pad=(0, 0)) -> tuple:
    """(output (O, Hₒ, Wₒ, N) batch-innermost, U, V) by scheme ``s`` for the input ``xp`` with ``pad`` still to
    apply (:func:`transform_input`) and weight ``w``, a range of tile positions at a time (V and M of one range
    stay in cache), the ranges shared out among one thread per BLAS thread (their outputs are disjoint). With
    ``keep`` (the weight will need a gradient) each range's transformed input V is kept for :func:`backward`, as
    a dict by range, where :data:`KEEP_INPUT` and :data:`KEEP_BYTES` allow (else None, and backward rebuilds
    it)."""
    c, n, o = xp.shape[0], xp.shape[3], w.shape[0]
    th, tw = s.tiles(ho), s.tiles(wo)
    u = s.weight_transform(w)
    out = buffers.empty((o, ho, wo, n), np.float32)
    keep = keep and KEEP_INPUT and s.planes * c * th * tw * n * 4 <= KEEP_BYTES
    kept = {} if keep else None

    def work(next_range):
        while (r := next_range()) is not None:
            p0, p1 = r
            t = (p1 - p0) * n
            v = s.input_transform(xp, th, tw, buffers.empty((s.planes, c, t), np.float32), p0, p1, pad)
            m = panels.planes_matmul(u, v, buffers.empty((s.planes, o, t), np.float32))
            if keep:
                kept[r] = v
            del v
            s.output_transform(m, th, tw, out, p0, p1)
            del m

    threads.share_out(work, *_plan(th, tw, n, c + o, s.planes))
    return out, u, kept


def _lock_apart(ranges: list, count: int) -> list:
    """The order :func:`backward` hands its ranges out in: every other range first, then the rest, where there
    are at most four ranges a thread. Neighbouring ranges add onto one shared group of image rows, so two threads
    taking neighbours at once wait for each other's lock; ranges two apart share none. With few ranges each
    wait is a large share of the pass (W10, whose 16×16 layers are four one-tile-row ranges: steps 2–4 % faster,
    alternating in one process); with many, the order kept lets a range add onto rows its neighbour has just
    brought into cache (W8, 22 ranges: 2 % slower interleaved)."""
    if len(ranges) > 4 * count:
        return ranges
    return ranges[0::2] + ranges[1::2]


def backward(g4: np.ndarray, xp: np.ndarray, u: np.ndarray, need_w: bool, need_x: bool, ph: int, pw: int,
             h: int, w: int, s, kept=None, padded_shape=None, pad=(0, 0)):
    """(dL/dx as (C, H, W, N) or None, dL/dw (O, C, 3, 3) or None) from the output gradient ``g4``
    (O, Hₒ, Wₒ, N) batch-innermost by scheme ``s``, a range of tile positions at a time: dU = Σ dM Vᵀ over the
    ranges.

    The ranges are shared out among threads as in :func:`forward`, each thread summing its own dU. The input
    tiles of neighbouring tile rows overlap (two image rows), so dL/dx has a lock per group of m image rows
    (mq … mq + m − 1): tile row r adds onto groups r and r + 1, and a range takes the locks of the groups it adds
    onto, in increasing order, for its last step only (the transforms and products of two ranges overlap).

    ``xp`` is the array the input transform read, with ``pad`` (:func:`transform_input`); the input gradient is
    summed in an array of its shape, from which dL/dx is the (H, W) window at (ph, pw) − ``pad``: for a scheme
    that reads the input unpadded, that array itself (C-contiguous).

    With ``kept`` (:func:`forward`'s V by range) the ranges are the forward pass's and ``xp`` may be None
    (``padded_shape`` then gives its shape): the weight gradient reads the kept V instead of transforming the
    input again."""
    o, ho, wo, n = g4.shape
    padded_shape = xp.shape if xp is not None else padded_shape
    c = padded_shape[0]
    th, tw = s.tiles(ho), s.tiles(wo)
    g4 = np.ascontiguousarray(g4)
    gxp = buffers.zeros(padded_shape, np.float32) if need_x else None
    if kept is not None:  # the forward pass's ranges, whose V it kept (the threads may differ now)
        ranges = sorted(kept)
        count = min(threads.share_count(), len(ranges))
    else:
        count, ranges = _plan(th, tw, n, c + o, s.planes)
    row_groups = [threading.Lock() for _ in range(th + 1)]
    ut = np.ascontiguousarray(u.transpose(0, 2, 1)) if need_x else None  # Uᵀ per plane, (planes, C, O)

    def work(next_range):
        du = np.zeros((s.planes, o, c), np.float32) if need_w else None
        du_part = np.empty((s.planes, o, c), np.float32)
        while (r := next_range()) is not None:
            p0, p1 = r
            t = (p1 - p0) * n
            dm = s.output_grad_transform(g4, th, tw, buffers.empty((s.planes, o, t), np.float32), p0, p1)
            if need_w:
                v = kept[r] if kept is not None else s.input_transform(
                    xp, th, tw, buffers.empty((s.planes, c, t), np.float32), p0, p1, pad)
                du += panels.planes_matmul(dm, v, du_part, transpose_b=True)
                del v
            if need_x:
                dv = panels.planes_matmul(ut, dm, buffers.empty((s.planes, c, t), np.float32))
                with threads.holding(row_groups[p0 // tw:(p1 - 1) // tw + 2]):
                    s.input_grad_transform(dv, th, tw, gxp, p0, p1, pad)
                del dv
            del dm
        return du

    parts = threads.share_out(work, count, _lock_apart(ranges, count))
    gw = None
    if need_w:
        du = parts[0]
        for part in parts[1:]:
            du += part
        gw = s.weight_grad(du, o, c)
    top, left = ph - pad[0], pw - pad[1]
    gx = gxp[:, top:top + h, left:left + w] if need_x else None
    return gx, gw
