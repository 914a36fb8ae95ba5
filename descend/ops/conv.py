"""2-D convolution (cross-correlation, as in every deep-learning library) as one matrix product.

For input x (N, C, H, W), weight w (O, C, kh, kw), stride s, padding p and dilation d:

    y[n, o, i, j] = b[o] + Σ_{c, u, v} w[o, c, u, v] · x̃[n, c, s·i + d·u, s·j + d·v]

with x̃ the zero-padded input; the output is (N, O, Hₒ, Wₒ), Hₒ = ⌊(H + 2p − d(kh − 1) − 1) / s⌋ + 1.

im2col: the patches of x̃ are gathered (one strided copy, no Python loop) into a matrix X of shape
(C·kh·kw, N·Hₒ·Wₒ) whose rows run along contiguous output positions; then Y = W X with W the
weight reshaped to (O, C·kh·kw) — one large GEMM. Backward, with G = dL/dY laid out as (O, N·Hₒ·Wₒ):

    dL/dW = G Xᵀ,   dL/db = Σ G (over samples and positions),   dL/dX = Wᵀ G,

and dL/dx is dL/dX scattered back onto the padded input (col2im): a loop over the kh·kw kernel offsets,
each a vectorised strided add over all samples and channels. With stride and dilation 1 the product
dL/dX is taken on the padded width Wp (G padded with zero columns), which turns each offset's add into
one contiguous run of the flattened (Hp·Wp) input per channel and sample.

X is C·kh·kw times the size of the input, so it is neither kept nor built whole when large: the
forward builds it in blocks of samples (columns of X), the backward rebuilds it in blocks of input
channels (rows of X, with the matching rows of dL/dW and of dL/dX), each block about ``_BLOCK``
elements. Every dot product still runs over its whole length, so blocking changes no sum.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..tensor import Tensor, record
from ._util import operand

__all__ = ["conv2d", "pair", "conv_output_size"]


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


def _windows(xp: np.ndarray, kh, kw, sh, sw, dh, dw, ho, wo, order):
    """A read-only strided view of the windows of ``xp`` (N, C, Hp, Wp).

    ``order="cknhw"``: (C, kh, kw, N, Hₒ, Wₒ), the im2col layout; ``"nchwk"``: (N, C, Hₒ, Wₒ, kh, kw).
    """
    sn, sc, s_h, s_w = xp.strides
    if order == "cknhw":
        shape = (xp.shape[1], kh, kw, xp.shape[0], ho, wo)
        strides = (sc, dh * s_h, dw * s_w, sn, sh * s_h, sw * s_w)
    else:
        shape = (xp.shape[0], xp.shape[1], ho, wo, kh, kw)
        strides = (sn, sc, sh * s_h, sw * s_w, dh * s_h, dw * s_w)
    return as_strided(xp, shape=shape, strides=strides, writeable=False)


#: Elements of one block of the patch matrix (2 MiB of float32): big enough for an efficient product,
#: small enough to stay in cache and to keep the memory a convolution needs near that of its output.
_BLOCK = 1 << 19


def _im2col(xp: np.ndarray, geometry) -> np.ndarray:
    """The patch matrix of ``xp`` (N, C, Hp, Wp): (C·kh·kw, N·Hₒ·Wₒ), one strided copy."""
    kh, kw, sh, sw, dh, dw, ho, wo = geometry
    n, c = xp.shape[:2]
    view = _windows(xp, kh, kw, sh, sw, dh, dw, ho, wo, "cknhw")
    return np.ascontiguousarray(view).reshape(c * kh * kw, n * ho * wo)


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution of x (N, C, H, W) with weight (O, C, kh, kw) and optional bias (O,); see module docs.

    ``stride``, ``padding`` and ``dilation`` are an int or an (h, w) pair. Only ``groups=1`` is supported.
    """
    x = x if isinstance(x, Tensor) else operand(x, weight)
    if groups != 1:
        raise NotImplementedError(f"conv2d: groups={groups} is not supported; only groups=1")
    xd, w = x.data, weight.data
    if xd.ndim != 4:
        raise ValueError(f"conv2d expects an input of shape (N, C, H, W), got {xd.shape}; add a batch dimension "
                         "with x.unsqueeze(0) for a single image")
    if w.ndim != 4:
        raise ValueError(f"conv2d expects a weight of shape (out_channels, in_channels, kh, kw), got {w.shape}")
    if xd.shape[1] != w.shape[1]:
        raise ValueError(f"conv2d: input of shape {xd.shape} has {xd.shape[1]} channels but the weight of shape "
                         f"{w.shape} expects {w.shape[1]} (in_channels)")
    if bias is not None and bias.data.shape != (w.shape[0],):
        raise ValueError(f"conv2d: bias of shape {bias.data.shape} does not match {w.shape[0]} output channels")
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

    xp = _pad_hw(xd, ph, pw)
    k = c * kh * kw
    hw = ho * wo
    geometry = (kh, kw, sh, sw, dh, dw, ho, wo)
    w2 = w.reshape(o, k)
    # forward: the patch matrix in blocks of samples (each output column is one sample's position, so
    # blocking by samples leaves every dot product whole); nothing of it is kept for backward
    nb = max(1, min(n, _BLOCK // max(1, k * hw)))
    if nb >= n:
        out2 = w2 @ _im2col(xp, geometry)                       # (O, N·Hₒ·Wₒ): the one large product
    else:
        out2 = np.empty((o, n * hw), dtype=np.result_type(w2, xd))
        for n0 in range(0, n, nb):
            n1 = min(n0 + nb, n)
            out2[:, n0 * hw:n1 * hw] = w2 @ _im2col(xp[n0:n1], geometry)
    if bias is not None:
        out2 += bias.data[:, None]
    out = out2.reshape(o, n, ho, wo).transpose(1, 0, 2, 3)      # NCHW view of the (O, N, Hₒ, Wₒ) result

    parents = (x, weight) if bias is None else (x, weight, bias)

    def backward(g):
        g2 = np.ascontiguousarray(g.transpose(1, 0, 2, 3)).reshape(o, n * hw)
        gx = gw = gb = None
        if bias is not None and bias.requires_grad:
            gb = g2.sum(axis=1)
        need_w, need_x = weight.requires_grad, x.requires_grad
        if need_w:
            gw = np.empty((o, k), dtype=np.result_type(g2, xd))
        if need_x:
            hp, wp = h + 2 * ph, wd + 2 * pw
            gxp = np.zeros((c, n, hp, wp), dtype=np.result_type(g2, w2))  # (C, N, ...)
            # stride and dilation 1 (so Wₒ + kw − 1 = Wp): G laid on the padded width, zero columns Wₒ…Wp−1,
            # makes each kernel offset's scatter one contiguous run per (channel, sample) of the flattened
            # (Hp·Wp) input, instead of Hₒ short rows; the zeros add nothing
            flat = sh == sw == dh == dw == 1 and wp > wo
            if flat:
                g_wide = np.zeros((o, n, ho, wp), dtype=g2.dtype)
                g_wide[..., :wo] = g2.reshape(o, n, ho, wo)
                g_wide = g_wide.reshape(o, n * ho * wp)
                run = (ho - 1) * wp + wo
        # by blocks of input channels: patch rows c0·kh·kw … c1·kh·kw, rebuilt here rather than stored
        cb = max(1, min(c, _BLOCK // max(1, kh * kw * n * hw)))
        for c0 in range(0, c, cb):
            c1 = min(c0 + cb, c)
            rows = slice(c0 * kh * kw, c1 * kh * kw)
            if need_w:
                gw[:, rows] = g2 @ _im2col(xp[:, c0:c1], geometry).T
            if need_x and flat:
                gcols = (w2[:, rows].T @ g_wide).reshape(c1 - c0, kh, kw, n, ho * wp)
                block = gxp[c0:c1].reshape(c1 - c0, n, hp * wp)
                for u in range(kh):
                    for v in range(kw):
                        block[:, :, u * wp + v:u * wp + v + run] += gcols[:, u, v, :, :run]
            elif need_x:
                gcols = (w2[:, rows].T @ g2).reshape(c1 - c0, kh, kw, n, ho, wo)
                block = gxp[c0:c1]
                for u in range(kh):
                    hs = slice(u * dh, u * dh + sh * (ho - 1) + 1, sh)
                    for v in range(kw):
                        block[:, :, hs, v * dw:v * dw + sw * (wo - 1) + 1:sw] += gcols[:, u, v]
        if need_w:
            gw = gw.reshape(w.shape)
        if need_x:
            gx = gxp[:, :, ph:ph + h, pw:pw + wd].transpose(1, 0, 2, 3)
        return (gx, gw) if bias is None else (gx, gw, gb)

    return record(out, parents, backward, "conv2d")
