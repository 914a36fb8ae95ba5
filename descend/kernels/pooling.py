"""Max-pooling kernels over batch-innermost images, (C, H, W, N) in memory: one pass each way.

Forward, for window (i, j) with offsets k = u·kw + v (u, v over the kh×kw window, rows s_h·i + u, columns
s_w·j + v) and every sample n along the contiguous innermost axis:

    y = x_0,  a = 0;   for k = 1 … kh·kw − 1:   a = k if x_k > y,   y = maximum(y, x_k)

with ``maximum`` NumPy's (a NaN, once met, stays), so y and the recorded offset a of the first maximum are
exactly those of the NumPy path in :func:`descend.ops.pooling.max_pool2d` (its running ``np.maximum`` and
``window > running max`` over the offsets). Backward: dL/dx at offset k of a window gets g where a = k —
written when the windows tile the input (every input in exactly one window), added otherwise.

The NumPy path makes about four passes over the output per offset (sixteen for a 2×2 window) and the
backward two per offset; each kernel here reads and writes every element once.
"""

from __future__ import annotations

import numpy as np

from . import kernel

__all__ = ["max_pool_forward", "max_pool_backward"]


@kernel
def _max_pool_forward(xp, kh, kw, sh, sw, out, arg, want_arg):
    c_count, _, _, n_count = xp.shape
    ho, wo = out.shape[1], out.shape[2]
    for c in range(c_count):
        for i in range(ho):
            for j in range(wo):
                y = out[c, i, j]
                a = arg[c, i, j]
                first = xp[c, i * sh, j * sw]
                for n in range(n_count):
                    y[n] = first[n]
                if want_arg:
                    for n in range(n_count):
                        a[n] = 0
                for k in range(1, kh * kw):
                    x = xp[c, i * sh + k // kw, j * sw + k % kw]
                    if want_arg:
                        for n in range(n_count):
                            if x[n] > y[n]:
                                a[n] = k
                    for n in range(n_count):  # NumPy's maximum: y stays when y >= x or y is NaN
                        m = y[n]
                        v = x[n]
                        y[n] = m if (m >= v or m != m) else v


@kernel
def _max_pool_backward(g, arg, kh, kw, sh, sw, gxp, add):
    c_count, ho, wo, n_count = g.shape
    zero = gxp.dtype.type(0)
    for c in range(c_count):
        for i in range(ho):
            for j in range(wo):
                gv = g[c, i, j]
                a = arg[c, i, j]
                for k in range(kh * kw):
                    dst = gxp[c, i * sh + k // kw, j * sw + k % kw]
                    if add:
                        for n in range(n_count):
                            if a[n] == k:
                                dst[n] += gv[n]
                    else:
                        for n in range(n_count):
                            dst[n] = gv[n] if a[n] == k else zero


def max_pool_forward(xp: np.ndarray, kh: int, kw: int, sh: int, sw: int, out: np.ndarray, arg) -> None:
    """y into ``out`` (C, Hₒ, Wₒ, N) and, unless ``arg`` is None, the first maximum's offset into ``arg``
    (same shape, uint8 or int32) for the C-contiguous ``xp`` (C, H, W, N)."""
    want = arg is not None
    if not want:  # an empty stand-in of the same rank (nothing is written to it)
        arg = np.empty(out.shape[:3] + (0,), np.uint8)
    _max_pool_forward(xp, np.int64(kh), np.int64(kw), np.int64(sh), np.int64(sw), out, arg, want)


def max_pool_backward(g: np.ndarray, arg: np.ndarray, kh: int, kw: int, sh: int, sw: int, gxp: np.ndarray,
                      add: bool) -> None:
    """dL/dx onto ``gxp`` (C, H, W, N): added when ``add`` (overlapping windows; ``gxp`` zeroed first), else
    written over every window's inputs (windows that tile ``gxp``)."""
    _max_pool_backward(g, arg, np.int64(kh), np.int64(kw), np.int64(sh), np.int64(sw), gxp, bool(add))
