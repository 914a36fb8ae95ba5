"""The Winograd route of :func:`descend.ops.conv.conv2d`: 3×3, stride 1, dilation 1, float32 convolutions.

The arithmetic (transforms, the 16 channel products, their transposes) is :mod:`descend.kernels.winograd`;
this module lays out the arrays: the zero-padded batch-innermost input, padded further at the bottom and right
to whole 2×2 output tiles, and the buffers of the transformed tiles. :func:`applies` says when it is used:
with the compiled kernels on, and enough input channels for the 16 products (inner dimension C) to run at
matrix-product speed — with few channels the im2col product (inner dimension 9C) is faster.
"""

from __future__ import annotations

import numpy as np

from .. import buffers, kernels
from ..kernels import winograd as K

__all__ = ["applies", "forward", "backward", "MIN_CHANNELS"]

#: Input channels from which the Winograd route is taken (measured on the benchmark CNNs; see docs/bench.md).
MIN_CHANNELS = 16


def applies(x: np.ndarray, w: np.ndarray, stride, dilation) -> bool:
    """Whether conv2d of ``x`` (N, C, H, W) with ``w`` (O, C, kh, kw) takes the Winograd route."""
    return (w.shape[2] == 3 and w.shape[3] == 3 and tuple(stride) == (1, 1) and tuple(dilation) == (1, 1)
            and x.dtype == np.float32 and w.dtype == np.float32 and x.shape[1] >= MIN_CHANNELS
            and kernels.enabled())


def pad_to_tiles(xm: np.ndarray, ph: int, pw: int, ho: int, wo: int) -> np.ndarray:
    """The batch-innermost input (C, H, W, N) zero-padded by (ph, pw) and to whole tiles: (C, 2tₕ+2, 2t_w+2, N)."""
    c, h, w, n = xm.shape
    th, tw = K.tiles(ho), K.tiles(wo)
    xp = buffers.empty((c, 2 * th + 2, 2 * tw + 2, n), xm.dtype)
    # zero only the border, then copy the interior
    xp[:, :ph] = 0
    xp[:, ph + h:] = 0
    xp[:, ph:ph + h, :pw] = 0
    xp[:, ph:ph + h, pw + w:] = 0
    xp[:, ph:ph + h, pw:pw + w] = xm
    return xp


def forward(xp: np.ndarray, w: np.ndarray, ho: int, wo: int) -> tuple:
    """(output (O, Hₒ, Wₒ, N) batch-innermost, U) for the tile-padded input ``xp`` and weight ``w``."""
    c, n, o = xp.shape[0], xp.shape[3], w.shape[0]
    th, tw = K.tiles(ho), K.tiles(wo)
    t = th * tw * n
    u = K.weight_transform(w)
    v = K.input_transform(xp, th, tw, buffers.empty((16, c, t), np.float32))
    m = np.matmul(u, v, out=buffers.empty((16, o, t), np.float32))
    del v
    out = K.output_transform(m, th, tw, buffers.empty((o, ho, wo, n), np.float32))
    return out, u


def backward(g4: np.ndarray, xp: np.ndarray, u: np.ndarray, need_w: bool, need_x: bool, ph: int, pw: int,
             h: int, w: int):
    """(dL/dx as (C, H, W, N) or None, dL/dw (O, C, 3, 3) or None) from the output gradient ``g4``
    (O, Hₒ, Wₒ, N) batch-innermost."""
    o, ho, wo, n = g4.shape
    c = xp.shape[0]
    th, tw = K.tiles(ho), K.tiles(wo)
    t = th * tw * n
    dm = K.output_grad_transform(g4, th, tw, buffers.empty((16, o, t), np.float32))
    gw = gx = None
    if need_w:
        v = K.input_transform(xp, th, tw, buffers.empty((16, c, t), np.float32))
        du = np.matmul(dm, v.transpose(0, 2, 1))
        del v
        gw = K.weight_grad(du, o, c)
    if need_x:
        dv = np.matmul(u.transpose(0, 2, 1), dm, out=buffers.empty((16, c, t), np.float32))
        gxp = buffers.zeros(xp.shape, np.float32)
        K.input_grad_transform(dv, th, tw, gxp)
        gx = gxp[:, ph:ph + h, pw:pw + w]
    return gx, gw
