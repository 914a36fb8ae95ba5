"""2-D pooling over NCHW inputs: max, average and adaptive average.

With kernel (kh, kw), stride s and padding p, window (i, j) covers rows s·i − p … s·i − p + kh − 1
(likewise columns) and the output is Hₒ = ⌊(H + 2p − kh) / s⌋ + 1 (PyTorch's ``ceil_mode=False``).

* max:  y = max over the window; the gradient goes to the window's (first) argmax, found again in the
  backward (the offsets in order, the first whose value equals y) rather than stored by the forward.
* avg:  y = (1 / (kh·kw)) Σ window, padded zeros counted (PyTorch's ``count_include_pad=True``; with
  False the divisor is the number of real inputs in the window); each input gets g / divisor from
  every window holding it.
* adaptive avg to (Hₒ, Wₒ): bin i spans rows ⌊iH/Hₒ⌋ … ⌈(i+1)H/Hₒ⌉ − 1; as the bins are rectangles
  the pooling is Y = A_h X A_wᵀ with averaging matrices A_h (Hₒ, H), A_w (Wₒ, W), and
  dL/dX = A_hᵀ G A_w.

Forward and backward loop over the kh·kw kernel offsets only; each step is vectorised over all
samples, channels and positions. Max pooling of an unpadded float input laid out batch-innermost (as a
convolution's output is) runs instead as compiled one-pass kernels (:mod:`descend.kernels.pooling`) with the
same results, when kernels are on.
"""

from __future__ import annotations

import numpy as np

from .. import buffers, kernels
from ..autograd import is_grad_enabled
from ..kernels import pooling as compiled_pooling
from ..tensor import Tensor, record
from ._util import operand
from .conv import _blocks, _pad_hw, batch_innermost, conv_output_size, pair, window_offsets

__all__ = ["max_pool2d", "avg_pool2d", "adaptive_avg_pool2d"]


def _check_input(name, xd):
    if xd.ndim != 4:
        raise ValueError(f"{name} expects an input of shape (N, C, H, W), got {xd.shape}; add a batch dimension "
                         "with x.unsqueeze(0) for a single image")


def _geometry(name, xd, kernel_size, stride, padding):
    kh, kw = pair(kernel_size, "kernel_size", 1)
    sh, sw = pair(kernel_size if stride is None else stride, "stride", 1)
    ph, pw = pair(padding, "padding", 0)
    if ph > kh // 2 or pw > kw // 2:
        raise ValueError(f"{name}: padding {(ph, pw)} must be at most half the kernel size {(kh, kw)}")
    h, w = xd.shape[2:]
    ho, wo = conv_output_size(h, kh, sh, ph), conv_output_size(w, kw, sw, pw)
    if ho < 1 or wo < 1:
        raise ValueError(f"{name}: input of spatial size {(h, w)} is smaller than the kernel {(kh, kw)} "
                         f"(with padding {(ph, pw)})")
    return kh, kw, sh, sw, ph, pw, ho, wo


#: Input elements per block of channels that pooling works through at a time (1 MiB of float32), so that
#: the kh·kw passes over one block find it in cache.
_CHANNEL_BLOCK = 1 << 18


def _channel_blocks(xp):
    """Slices of the channel axis of ``xp`` (N, C, H, W): equal blocks of at most ``_CHANNEL_BLOCK`` elements
    (one channel at least), cut as the convolution cuts its patch matrix."""
    n, c, h, w = xp.shape
    return [slice(c0, c1) for c0, c1 in _blocks(c, n * h * w, _CHANNEL_BLOCK)]


#: Samples from which max pooling runs as the compiled kernels, whose inner loops run along the batch (measured,
#: forward + backward of a 2×2 pool over 32×26×26 per sample: 0.37 against NumPy's 0.08 ms at 1 sample, even at
#: 16, 0.55 against 0.68 at 32, 0.83 against 1.53 at 64).
KERNEL_FROM_BATCH = 32


def _compiled_layout(xp: np.ndarray, out: np.ndarray, arg) -> bool:
    """Whether max pooling runs as the compiled one-pass kernels (:mod:`descend.kernels.pooling`): kernels
    on, a float input of at least :data:`KERNEL_FROM_BATCH` samples laid out batch-innermost (a convolution's
    output, unpadded) and so its output."""
    def inner(a):  # laid out (C, H, W, N), contiguous: batch_innermost gives it as a view
        return a.transpose(1, 2, 3, 0).flags.c_contiguous

    return (kernels.enabled() and xp.dtype.kind == "f" and xp.shape[0] >= KERNEL_FROM_BATCH and inner(xp)
            and inner(out) and (arg is None or inner(arg)))


def max_pool2d(x, kernel_size, stride=None, padding=0):
    """Max over each kh×kw window (stride defaults to the kernel size; padding with −∞).

    Forward: a running ``np.maximum`` over the kh·kw strided window views (NaN propagates, as in PyTorch),
    which also records, when a gradient will be needed, the offset of each window's first maximum (ties go to
    the first, as in PyTorch) as one byte per output; the input itself is not kept. Backward: offset k gets
    g where the recorded offset is k. Both work through blocks of channels (:data:`_CHANNEL_BLOCK`), so
    the kh·kw passes over a block find it in cache. Departure from PyTorch: a window holding a NaN outputs
    NaN as PyTorch does, but its gradient goes to the first maximum of its other values, not to the NaN.
    """
    x = x if isinstance(x, Tensor) else operand(x)
    xd = x.array
    _check_input("max_pool2d", xd)
    kh, kw, sh, sw, ph, pw, ho, wo = _geometry("max_pool2d", xd, kernel_size, stride, padding)
    xp = _pad_hw(xd, ph, pw, -np.inf)
    xp_shape, layout = xp.shape, buffers.stride_order(xp)
    # the output in the input's memory layout (a convolution's is batch-innermost)
    out = buffers.empty_ordered((xp_shape[0], xp_shape[1], ho, wo), layout, xp.dtype)
    # the offset of each window's first maximum, 0 … kh·kw − 1: idx = max_k k·[offset k beats all before it]
    arg_dtype = np.uint8 if kh * kw <= 256 else np.int32
    arg = buffers.empty_like(out, arg_dtype) if x.requires_grad and is_grad_enabled() else None
    compiled = _compiled_layout(xp, out, arg)
    if compiled:
        compiled_pooling.max_pool_forward(batch_innermost(xp), kh, kw, sh, sw, batch_innermost(out),
                                          None if arg is None else batch_innermost(arg))
    else:
        for cs in _channel_blocks(xp):
            o = out[:, cs]
            a = None if arg is None else arg[:, cs]
            beats = None if a is None else np.empty_like(o, np.bool_)
            beats_k = None if a is None else (beats.view(np.uint8) if arg_dtype == np.uint8 else np.empty_like(a))
            for k, (rows, cols) in enumerate(window_offsets(kh, kw, sh, sw, 1, 1, ho, wo)):
                window = xp[:, cs, rows, cols]
                if k == 0:
                    np.copyto(o, window)
                    if a is not None:
                        a.fill(0)
                    continue
                if a is not None:
                    np.greater(window, o, out=beats)
                    np.maximum(a, np.multiply(beats, arg_dtype(k), out=beats_k), out=a)
                np.maximum(o, window, out=o)
    del xp

    def backward(g):
        disjoint = sh >= kh and sw >= kw  # every input in at most one window: write, do not add
        hp, wp = xp_shape[2], xp_shape[3]
        # the input's memory layout, so the next backward reads it in order; when the windows tile the input
        # exactly every element is written below and the zero fill can be skipped
        tiled = disjoint and sh == kh and sw == kw and ho * sh == hp and wo * sw == wp
        gxp = buffers.empty_ordered(xp_shape, layout, g.dtype)
        if not tiled:
            gxp.fill(0)
        if compiled:  # g batch-innermost and contiguous (a padded convolution's gradient is a strided view)
            compiled_pooling.max_pool_backward(batch_innermost(g), batch_innermost(arg), kh, kw, sh, sw,
                                               batch_innermost(gxp), not disjoint)
        else:
            if buffers.stride_order(g) != layout:  # one small copy into out's layout beats mixed-layout passes
                g = buffers.copy_ordered(g, layout)
            for cs in _channel_blocks(gxp):
                a, gc, gxc = arg[:, cs], g[:, cs], gxp[:, cs]
                hit = np.empty_like(a, np.bool_)
                for k, (rows, cols) in enumerate(window_offsets(kh, kw, sh, sw, 1, 1, ho, wo)):
                    np.equal(a, k, out=hit)
                    if disjoint:
                        np.multiply(gc, hit, out=gxc[:, :, rows, cols])
                    else:
                        gxc[:, :, rows, cols] += gc * hit
        return (gxp[:, :, ph:ph + hp - 2 * ph, pw:pw + wp - 2 * pw],)

    return record(out, (x,), backward, "max_pool2d")


def avg_pool2d(x, kernel_size, stride=None, padding=0, count_include_pad=True):
    """Mean over each kh×kw window (stride defaults to the kernel size). Padded zeros count in the mean
    unless ``count_include_pad=False``, which divides by the number of real inputs in the window."""
    x = x if isinstance(x, Tensor) else operand(x)
    xd = x.array
    _check_input("avg_pool2d", xd)
    kh, kw, sh, sw, ph, pw, ho, wo = _geometry("avg_pool2d", xd, kernel_size, stride, padding)
    xp = _pad_hw(xd, ph, pw, 0)
    scale = 1.0 / (kh * kw)
    if not count_include_pad and (ph or pw):
        ones = _pad_hw(np.ones((1, 1) + xd.shape[2:], dtype=xd.dtype), ph, pw, 0)
        count = np.zeros((1, 1, ho, wo), dtype=xd.dtype)
        for rows, cols in window_offsets(kh, kw, sh, sw, 1, 1, ho, wo):
            count += ones[:, :, rows, cols]
        scale = 1.0 / count
    out = np.zeros(xd.shape[:2] + (ho, wo), dtype=xd.dtype)
    for rows, cols in window_offsets(kh, kw, sh, sw, 1, 1, ho, wo):
        out += xp[:, :, rows, cols]
    out *= scale

    def backward(g):
        gs = g * scale
        gxp = np.zeros(xp.shape, dtype=g.dtype)
        for rows, cols in window_offsets(kh, kw, sh, sw, 1, 1, ho, wo):
            gxp[:, :, rows, cols] += gs
        return (gxp[:, :, ph:ph + xd.shape[2], pw:pw + xd.shape[3]],)

    return record(out, (x,), backward, "avg_pool2d")


def _adaptive_matrix(size: int, out: int, dtype) -> np.ndarray:
    """(out, size) matrix averaging bin i = rows ⌊i·size/out⌋ … ⌈(i+1)·size/out⌉ − 1."""
    i = np.arange(out)
    start = (i * size) // out
    end = -((-(i + 1) * size) // out)
    pos = np.arange(size)
    inside = (pos[None, :] >= start[:, None]) & (pos[None, :] < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


def adaptive_avg_pool2d(x, output_size):
    """Average pooling to a fixed output size (Hₒ, Wₒ); ``output_size=1`` is global average pooling.
    An entry of ``None`` keeps that input dimension."""
    x = x if isinstance(x, Tensor) else operand(x)
    xd = x.array
    _check_input("adaptive_avg_pool2d", xd)
    h, w = xd.shape[2:]
    if isinstance(output_size, (int, np.integer)):
        output_size = (output_size, output_size)
    oh, ow = (h if output_size[0] is None else output_size[0]), (w if output_size[1] is None else output_size[1])
    oh, ow = pair((oh, ow), "output_size", 1)
    if oh == 1 and ow == 1:
        out = xd.mean(axis=(2, 3), keepdims=True)

        def backward_global(g):  # dL/dx = g / (h·w) at every position, laid out in memory as x
            gx = buffers.empty_like(xd, np.result_type(g.dtype, xd.dtype))
            gx[...] = g * (1.0 / (h * w))
            return (gx,)

        return record(out, (x,), backward_global, "adaptive_avg_pool2d")
    ah, aw = _adaptive_matrix(h, oh, xd.dtype), _adaptive_matrix(w, ow, xd.dtype)
    out = ah @ xd @ aw.T

    def backward(g):
        return (ah.T @ g @ aw,)

    return record(out, (x,), backward, "adaptive_avg_pool2d")
