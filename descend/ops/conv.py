"""2-D convolution (cross-correlation, as in every deep-learning library) as one matrix product.

For input x (N, C, H, W), weight w (O, C, kh, kw), stride s, padding p and dilation d:

    y[n, o, i, j] = b[o] + Σ_{c, u, v} w[o, c, u, v] · x̃[n, c, s·i + d·u, s·j + d·v]

with x̃ the zero-padded input; the output is (N, O, Hₒ, Wₒ), Hₒ = ⌊(H + 2p − d(kh − 1) − 1) / s⌋ + 1.

Layout. Inside, images are laid out batch-innermost, (C, H, W, N) in memory: tensors keep their
(N, C, H, W) shape and indexing, only their strides differ (the output is a transposed view of a
(O, Hₒ, Wₒ, N) array). With the batch innermost every block this module copies or adds is a long
contiguous run (a whole image row across the batch, Wₒ·N elements), and the element-wise layers and
pooling that follow (which keep their input's layout) work along runs of N instead of runs of W.

im2col: the patches of x̃ are gathered into a matrix X of shape (kh·kw·C, Hₒ·Wₒ·N), one contiguous
block copy per kernel offset (u, v): rows (u, v, c), columns the output positions; then Y = W X with
W the weight reordered to (O, kh·kw·C) — one large GEMM, whose (O, Hₒ·Wₒ·N) result is already the
output in the batch-innermost layout. Backward, with G = dL/dY as (O, Hₒ·Wₒ·N):

    dL/dW = G Xᵀ,   dL/db = Σ G (over positions and samples),   dL/dX = Wᵀ G,

and dL/dx is dL/dX added back onto the padded input (col2im): one block add per kernel offset.

X is kh·kw times the size of the input, so it is neither kept nor built whole when large: the forward
builds it in blocks of output rows (columns of X), the backward rebuilds it in blocks of input channels
(rows of X, with the matching columns of dL/dW and rows of dL/dX), each block about ``_BLOCK``
elements. Every dot product still runs over its whole length, so blocking changes no sum.

On several cores (:func:`descend.kernels.threads.share_count` > 1) a convolution whose patch matrix has at least
:data:`SPLIT_FROM` elements (:data:`WEIGHT_SPLIT_FROM` for a first layer, which trains its weight and needs no input
gradient) and :data:`SPLIT_DEPTH` rows shares its blocks of output rows out among one thread per core, each block's
patches and product on its own thread with every BLAS held to one thread (the patch copies ran on one core before,
and the BLAS split thin products poorly). Forward blocks write disjoint outputs. Backward, each thread sums dL/dW
over its blocks (the per-thread sums are added: float32 rounding of another summation order), and adds its blocks of
dL/dX onto the padded input while holding a lock for each input row they touch (taken in increasing order), since
the windows of neighbouring output rows overlap.
"""

from __future__ import annotations

import threading

import numpy as np

from .. import buffers
from ..kernels import threads, transpose
from ..autograd import is_grad_enabled
from ..tensor import Tensor, record
from . import conv_winograd
from ._util import operand
from .activation import relu_gradient, relu_in_place

__all__ = ["conv2d", "conv2d_relu", "pair", "conv_output_size"]


def pair(value, name: str, minimum: int = 0) -> tuple:
    """``value`` as a pair of ints (an int is used for both dimensions), each ≥ ``minimum``."""
    if isinstance(value, (int, np.integer)):
        value = (int(value), int(value))
    try:
        a, b = (int(v) for v in value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}") from None
    if a < minimum or b < minimum:
        raise ValueError(f"{name} must be ≥ {minimum}, got {value!r}")
    return a, b


def conv_output_size(size: int, kernel: int, stride: int, padding: int, dilation: int = 1) -> int:
    """⌊(size + 2·padding − dilation·(kernel − 1) − 1) / stride⌋ + 1."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _pad_hw(x: np.ndarray, ph: int, pw: int, value=0.0) -> np.ndarray:
    if ph == 0 and pw == 0:
        return x
    n, c, h, w = x.shape
    out = np.full((n, c, h + 2 * ph, w + 2 * pw), value, dtype=x.dtype)
    out[:, :, ph:ph + h, pw:pw + w] = x
    return out


#: Elements of one block of the patch matrix (8 MiB of float32): big enough for an efficient product,
#: small enough to keep the memory a convolution needs near that of its output. Blocks are cut to equal
#: sizes, so a matrix a little over the budget is two halves rather than a big and a small block.
_BLOCK = 1 << 21


#: Patch-matrix elements from which a convolution's blocks are shared out among threads (smaller ones run on
#: one; measured on two cores, whole training steps: W3's CNN at batch 512, whose second convolution has 18 M
#: patch elements, 94 ms unsplit against 84 split; at batch 64, 2.2 M, 10.3 ms unsplit against 13.4 split).
SPLIT_FROM = 1 << 22
#: Patch rows (kh·kw·C) from which they are: with fewer, the product does 2·kh·kw·C flops per output element
#: it writes and is bound by the memory those writes take, which a second core does not add to (measured: a
#: 1-channel 3×3 convolution at batch 512 ran about 10 % slower shared out).
SPLIT_DEPTH = 16


#: Patch-matrix elements from which a convolution that trains its weight but needs no input gradient (a
#: network's first layer) is shared out (:func:`_split_threads`).
WEIGHT_SPLIT_FROM = 1 << 19


def _split_threads(rows: int, elements: int, weight_only: bool = False) -> int:
    """Threads a convolution whose patch matrix has ``rows`` rows and ``elements`` elements runs on (1, or one
    per BLAS thread): from :data:`SPLIT_FROM` elements, or from :data:`WEIGHT_SPLIT_FROM` for a layer whose
    backward pass computes only the weight gradient (``weight_only``, a network's first layer). That product,
    dL/dW = P Gᵀ, sums over every output position: a long sum of a few-row P that the BLAS does not split among
    its threads (a 3-channel 3×3 layer at 32×32, batch 64: 27 × 65536 by 65536 × 32 took 2.6 ms on one BLAS
    thread and on two; 1.8 ms as two halves on two threads). Its forward pass is shared out too: left to the
    BLAS's own threads, they keep spinning for a while after the product, on the core the next layers' shared
    work needs (W10, steps alternating in one process: 92.4 ms with neither pass shared, 90.3 with the
    backward pass, 88.1 with both)."""
    least = WEIGHT_SPLIT_FROM if weight_only else SPLIT_FROM
    return threads.share_count() if rows >= SPLIT_DEPTH and elements >= least else 1


def _blocks(total: int, per_item: int, budget: int = _BLOCK):
    """(start, stop) ranges cutting ``total`` items of ``per_item`` elements each into equal blocks of at
    most ``budget`` elements (one item at least)."""
    count = max(1, min(total, -(-total * per_item // budget)))
    size = -(-total // count)
    return [(a, min(a + size, total)) for a in range(0, total, size)]


def _row_blocks(ho: int, per_row: int, count: int):
    """Blocks of output rows for ``count`` threads: about ``_BLOCK / count`` patch elements each, as many as a
    multiple of ``count`` where the rows allow, their sizes differing by one row at most (so that no thread is
    left with a block more than the others)."""
    if count == 1:
        return _blocks(ho, per_row)
    return threads.even_ranges(ho, -(-ho * per_row // (_BLOCK // count)), count)


def batch_innermost(x: np.ndarray) -> np.ndarray:
    """``x`` (N, C, H, W) as a C-contiguous (C, H, W, N) array: a view when ``x`` is already laid out that
    way (a convolution's output, and the ReLU and pooling outputs made from it), else a copy into a
    recycled buffer."""
    m = x.transpose(1, 2, 3, 0)
    if m.flags.c_contiguous:
        return m
    if x.flags.c_contiguous and transpose.takes(x, x):  # (N, C·H·W) → (C·H·W, N): the compiled 8 × 8 blocks
        out = buffers.empty(m.shape, x.dtype)
        transpose.transpose_into(x.reshape(x.shape[0], -1), out.reshape(-1, x.shape[0]))
        return out
    return buffers.copy_ordered(x, (1, 2, 3, 0)).transpose(1, 2, 3, 0)


def window_offsets(kh, kw, sh, sw, dh, dw, ho, wo):
    """For each kernel offset (u, v), in row-major order (k = u·kw + v): the (rows, cols) slices of the
    padded input that offset reads for all Hₒ × Wₒ output positions (convolution and pooling)."""
    for u in range(kh):
        rows = slice(u * dh, u * dh + sh * (ho - 1) + 1, sh)
        for v in range(kw):
            yield rows, slice(v * dw, v * dw + sw * (wo - 1) + 1, sw)


def _im2col(xp: np.ndarray, geometry, rows=slice(None)) -> np.ndarray:
    """The patch matrix of the padded batch-innermost input ``xp`` (C, Hp, Wp, N) for output rows
    ``rows``: (kh·kw·C, Hₒ'·Wₒ·N) with rows (u, v, c), in a recycled buffer (:mod:`descend.buffers`)."""
    kh, kw, sh, sw, dh, dw, ho, wo = geometry
    c, n = xp.shape[0], xp.shape[3]
    i0, i1, _ = rows.indices(ho)
    out = buffers.empty((kh * kw, c, i1 - i0, wo, n), xp.dtype)
    for k, (hs, ws) in enumerate(window_offsets(kh, kw, sh, sw, dh, dw, ho, wo)):
        np.copyto(out[k], xp[:, hs, ws][:, i0:i1])
    return out.reshape(kh * kw * c, (i1 - i0) * wo * n)


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution of x (N, C, H, W) with weight (O, C, kh, kw) and optional bias (O,); see module docs.

    ``stride``, ``padding`` and ``dilation`` are an int or an (h, w) pair. Only ``groups=1`` is supported.
    """
    return _conv2d(x, weight, bias, stride, padding, dilation, groups, relu=False)


def conv2d_relu(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """max(0, conv2d(...)) as one node: the values of ``relu(conv2d(...))`` bit for bit, with the maximum
    taken in place on the convolution's own output and, for backward, only a byte mask kept (as
    :func:`~descend.ops.linalg.linear_relu`). :meth:`Conv2d.fuse_next <descend.nn.Conv2d.fuse_next>` offers
    it for a Conv2d directly followed by a ReLU (:mod:`descend.nn.fusion`)."""
    return _conv2d(x, weight, bias, stride, padding, dilation, groups, relu=True)


def _conv2d(x, weight, bias, stride, padding, dilation, groups, relu: bool):
    """The one node of :func:`conv2d` (``relu=False``) and :func:`conv2d_relu` (``relu=True``)."""
    x = x if isinstance(x, Tensor) else operand(x, weight)
    if groups != 1:
        raise NotImplementedError(f"conv2d: groups={groups} is not supported; only groups=1")
    xd, w = x.array, weight.array
    if xd.ndim != 4:
        raise ValueError(f"conv2d expects an input of shape (N, C, H, W), got {xd.shape}; add a batch dimension "
                         "with x.unsqueeze(0) for a single image")
    if w.ndim != 4:
        raise ValueError(f"conv2d expects a weight of shape (out_channels, in_channels, kh, kw), got {w.shape}")
    if xd.shape[1] != w.shape[1]:
        raise ValueError(f"conv2d: input of shape {xd.shape} has {xd.shape[1]} channels but the weight of shape "
                         f"{w.shape} expects {w.shape[1]} (in_channels)")
    if bias is not None and bias.array.shape != (w.shape[0],):
        raise ValueError(f"conv2d: bias of shape {bias.array.shape} does not match {w.shape[0]} output channels")
    sh, sw = pair(stride, "stride", 1)
    ph, pw = pair(padding, "padding", 0)
    dh, dw = pair(dilation, "dilation", 1)
    n, c, h, wd = xd.shape
    o, _, kh, kw = w.shape
    ho, wo = conv_output_size(h, kh, sh, ph, dh), conv_output_size(wd, kw, sw, pw, dw)
    if ho < 1 or wo < 1:
        raise ValueError(f"conv2d: input of spatial size {(h, wd)} is too small for kernel {(kh, kw)} with padding "
                         f"{(ph, pw)} and dilation {(dh, dw)} (output would be {(ho, wo)}); pad more or use a "
                         "smaller kernel")

    scheme = conv_winograd.scheme(xd, w, (sh, sw), (ph, pw), (dh, dw))
    if scheme is not None:
        return _conv2d_winograd(x, weight, bias, xd, w, (ph, pw), (ho, wo), relu, scheme)
    xm = batch_innermost(xd)                                    # (C, H, W, N)
    if ph or pw:
        xp = buffers.zeros((c, h + 2 * ph, wd + 2 * pw, n), xm.dtype)
        xp[:, ph:ph + h, pw:pw + wd] = xm
    else:
        xp = xm
    del xm
    k = kh * kw * c
    cols = wo * n                                               # patch-matrix columns per output row
    geometry = (kh, kw, sh, sw, dh, dw, ho, wo)
    w2 = np.ascontiguousarray(w.transpose(0, 2, 3, 1)).reshape(o, k)  # columns (u, v, c), as the patch rows
    dtype = np.result_type(w2, xd)
    # forward: the patch matrix in blocks of output rows (each column of the product is one output position,
    # so blocking by positions leaves every dot product whole); nothing of it is kept for backward
    out_m = buffers.empty((o, ho, wo, n), dtype)                # the output, batch innermost
    out2 = out_m.reshape(o, ho * cols)
    weight_only = weight.requires_grad and not x.requires_grad and is_grad_enabled()
    count = _split_threads(k, k * ho * cols, weight_only)

    bias_column = None if bias is None else bias.array[:, None]

    def forward_blocks(next_block):
        while (block := next_block()) is not None:
            i0, i1 = block
            part = np.matmul(w2, _im2col(xp, geometry, slice(i0, i1)), out=out2[:, i0 * cols:i1 * cols])
            if bias_column is not None:  # while the block is in cache
                part += bias_column

    threads.share_out(forward_blocks, count, _row_blocks(ho, k * cols, count))
    out = out_m.transpose(3, 0, 1, 2)                           # the (N, O, Hₒ, Wₒ) view

    parents, need_x, need_w, need_b, positive = _node_inputs(x, weight, bias, out, relu)
    out_dtype = out.dtype
    del x, xd

    def backward(g):
        if positive is not None:
            g = relu_gradient(g, positive, out_dtype)
        g2 = batch_innermost(g).reshape(o, ho * cols)           # G, columns (i, j, n) like the patch matrix
        gx = gw = gb = None
        if need_b:
            gb = g2.sum(axis=1)
        if need_x:
            gxp = buffers.zeros(xp.shape, np.result_type(g2, w2))    # (C, Hp, Wp, N)
        if count > 1:  # by blocks of output rows, shared out among threads
            gw_rows = _shared_backward(g2, xp, w2, gxp if need_x else None, need_w, geometry, count)
            gw = None if gw_rows is None else gw_rows.reshape(o, kh, kw, c)
        else:  # by blocks of input channels: patch rows (u, v, c0…c1), rebuilt here rather than stored
            if need_w:
                gw = np.empty((o, kh, kw, c), dtype=np.result_type(g2, xp))
            for c0, c1 in _blocks(c, kh * kw * ho * cols):
                if need_w:
                    patches = _im2col(xp[c0:c1], geometry)
                    # (P Gᵀ)ᵀ rather than G Pᵀ: the BLAS splits the long sum of a few-row P better (measured
                    # 1.0-1.5× as fast on im2col shapes, e.g. (32 × 65536) by (27 × 65536) 1.28 -> 1.00 ms, two
                    # cores)
                    gw[:, :, :, c0:c1] = np.matmul(patches, g2.T).T.reshape(o, kh, kw, c1 - c0)
                    patches = None
                if need_x:
                    w_block = w2.reshape(o, kh * kw, c)[:, :, c0:c1].reshape(o, -1)
                    gcols = np.matmul(w_block.T, g2,
                                      out=buffers.empty((kh * kw * (c1 - c0), ho * cols), g2.dtype))
                    gcols = gcols.reshape(kh * kw, c1 - c0, ho, wo, n)
                    block = gxp[c0:c1]
                    for kk, (hs, ws) in enumerate(window_offsets(*geometry)):
                        block[:, hs, ws] += gcols[kk]
                    gcols = None
        if need_w:
            gw = np.ascontiguousarray(gw.transpose(0, 3, 1, 2))
        if need_x:
            gx = gxp[:, ph:ph + h, pw:pw + wd].transpose(3, 0, 1, 2)
        return (gx, gw) if bias is None else (gx, gw, gb)

    return record(out, parents, backward, "conv2d_relu" if relu else "conv2d")


def _shared_backward(g2, xp, w2, gxp, need_w: bool, geometry, count: int):
    """The backward products of an im2col convolution by blocks of output rows shared out among ``count``
    threads: returns dL/dW as (O, kh·kw·C) (None without ``need_w``) and adds dL/dX onto ``gxp`` (when given),
    holding the locks of the padded input rows a block's windows touch while it adds."""
    kh, kw, sh, sw, dh, dw, ho, wo = geometry
    c, n = xp.shape[0], xp.shape[3]
    o, k, cols = g2.shape[0], w2.shape[1], wo * n
    row_locks = [threading.Lock() for _ in range(xp.shape[1])]

    def backward_blocks(next_block):
        gw = np.zeros((k, o), np.result_type(g2, xp)) if need_w else None  # dL/dWᵀ (as in the one-thread path)
        while (block := next_block()) is not None:
            i0, i1 = block
            g_block = g2[:, i0 * cols:i1 * cols]
            if need_w:
                gw += np.matmul(_im2col(xp, geometry, slice(i0, i1)), g_block.T)
            if gxp is not None:
                gcols = np.matmul(w2.T, g_block, out=buffers.empty((k, (i1 - i0) * cols), g2.dtype))
                gcols = gcols.reshape(kh * kw, c, i1 - i0, wo, n)
                with threads.holding(row_locks[i0 * sh:(i1 - 1) * sh + (kh - 1) * dh + 1]):
                    for kk, (hs, ws) in enumerate(window_offsets(*geometry)):
                        rows = slice(hs.start + i0 * sh, hs.start + (i1 - 1) * sh + 1, sh)
                        gxp[:, rows, ws] += gcols[kk]
        return gw

    parts = threads.share_out(backward_blocks, count, _row_blocks(ho, k * cols, count))
    if not need_w:
        return None
    total = parts[0]
    for part in parts[1:]:
        total += part
    return total.T


def _node_inputs(x, weight, bias, out, relu: bool):
    """(parents, need_x, need_w, need_b, ReLU mask or None) of a conv2d node whose output is ``out``; with
    ``relu`` the output is rectified in place first (the mask kept only when a gradient will be needed)."""
    parents = (x, weight) if bias is None else (x, weight, bias)
    need_w, need_x = weight.requires_grad, x.requires_grad
    need_b = bias is not None and bias.requires_grad
    positive = relu_in_place(out, is_grad_enabled() and (need_w or need_x or need_b)) if relu else None
    return parents, need_x, need_w, need_b, positive


def _conv2d_winograd(x, weight, bias, xd, w, padding, out_size, relu: bool, scheme):
    """The node of :func:`_conv2d` computed by Winograd F(m×m, 3×3) (``scheme``, :mod:`descend.ops.conv_winograd`)."""
    (ph, pw), (ho, wo) = padding, out_size
    n, c, h, wd = xd.shape
    o = w.shape[0]
    xp, pad = conv_winograd.transform_input(batch_innermost(xd), ph, pw, ho, wo, scheme)
    out_m, u, kept = conv_winograd.forward(xp, w, ho, wo, scheme, keep=weight.requires_grad and is_grad_enabled(),
                                           pad=pad)
    if bias is not None:
        out_m.reshape(o, -1)[...] += bias.array[:, None]
    out = out_m.transpose(3, 0, 1, 2)
    parents, need_x, need_w, need_b, positive = _node_inputs(x, weight, bias, out, relu)
    out_dtype = out.dtype
    padded_shape = xp.shape
    if not (need_x or need_w or need_b) or not is_grad_enabled():
        xp = kept = None
    elif kept is not None:  # the weight gradient reads V; the input gradient never reads the input
        xp = None
    del x, xd

    def backward(g):
        if positive is not None:
            g = relu_gradient(g, positive, out_dtype)
        g4 = batch_innermost(g)                                 # (O, Hₒ, Wₒ, N)
        gb = g4.reshape(o, -1).sum(axis=1) if need_b else None
        gx, gw = conv_winograd.backward(g4, xp, u, need_w, need_x, ph, pw, h, wd, scheme, kept, padded_shape,
                                        pad)
        if gx is not None:
            gx = gx.transpose(3, 0, 1, 2)
        return (gx, gw) if bias is None else (gx, gw, gb)

    return record(out, parents, backward, "conv2d_relu" if relu else "conv2d")
