"""Activation functions, each with its closed-form derivative."""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from .. import buffers, kernels
from ..kernels import activation as gelu_kernels
from ..autograd import is_grad_enabled
from ..tensor import record

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def relu(a):
    """max(0, x);  derivative 1 for x > 0, else 0.

    The output keeps the input's memory layout and comes from :mod:`descend.buffers`; the maximum runs
    against a row of zeros rather than the scalar 0 (NumPy's vectorised loop for two arrays is about
    twice as fast), in memory order. NaN stays NaN (and passes its gradient on, as in PyTorch). For
    backward only the mask is kept (one byte per element), not the output.
    """
    x = a.array
    out = buffers.empty_like(x)
    max_with_zero(x, out)
    if not (a.requires_grad and is_grad_enabled()):
        return record(out, (a,), None, "relu")
    positive = relu_mask(out)
    out_dtype = out.dtype  # the backward keeps the mask and this dtype, not the output itself
    return record(out, (a,), lambda g: (relu_gradient(g, positive, out_dtype),), "relu")


#: Elements per row of :func:`max_with_zero`'s zero row.
_ZERO_ROW = 1 << 14
_zero_rows: dict = {}


def _memory_flat(a):
    """``a`` as a 1-D view in memory order, or None when its elements are not one contiguous block."""
    if a.flags.c_contiguous:
        return a.reshape(-1)
    order = buffers.dense_order(a)
    return None if order is None else a.transpose(order).reshape(-1)


def relu_mask(y):
    """ReLU's backward mask from its output y: not (y <= 0), so that a NaN passes its gradient on, as in
    PyTorch (one byte per element, from :mod:`descend.buffers`, in y's layout)."""
    positive = buffers.empty_like(y, np.bool_)
    return np.logical_not(np.less_equal(y, 0, out=positive), out=positive)


def relu_in_place(y, keep_mask: bool):
    """y ← max(y, 0) on a layer's own output (the fused ``linear_relu`` and ``conv2d_relu``); returns the
    backward mask (:func:`relu_mask`) when ``keep_mask``, else None."""
    max_with_zero(y, y)
    return relu_mask(y) if keep_mask else None


def relu_gradient(g, positive, out_dtype):
    """dL/dx = g·[positive] for ReLU's output dtype ``out_dtype``, in a recycled buffer laid out as g, or as
    the mask when g's layout differs (a copy into the mask's layout, then one pass in order, beats one pass
    reading the two in different orders)."""
    dtype = np.result_type(g.dtype, out_dtype)
    if g.ndim >= 3 and not (g.flags.c_contiguous and positive.flags.c_contiguous):
        order = buffers.dense_order(positive)
        if order is not None and buffers.stride_order(g) != order:
            gx = buffers.copy_ordered(g.astype(dtype, copy=False), order)
            return np.multiply(gx, positive, out=gx)
    return np.multiply(g, positive, out=buffers.empty_like(g, dtype))


def max_with_zero(x, out):
    """out ← max(x, 0) for ``out`` laid out as ``x`` (from ``buffers.empty_like(x)``, or ``x`` itself)."""
    xf, of = _memory_flat(x), _memory_flat(out)
    n = x.size
    if xf is None or of is None or n < _ZERO_ROW or x.dtype.kind != "f":
        np.maximum(x, 0, out=out)
        return
    zeros = _zero_rows.get(x.dtype)
    if zeros is None:
        zeros = _zero_rows[x.dtype] = np.zeros(_ZERO_ROW, x.dtype)
    full = n - n % _ZERO_ROW
    np.maximum(xf[:full].reshape(-1, _ZERO_ROW), zeros, out=of[:full].reshape(-1, _ZERO_ROW))
    if full < n:
        np.maximum(xf[full:], zeros[:n - full], out=of[full:])


def leaky_relu(a, negative_slope=0.01):
    """x for x > 0, else slope·x;  derivative 1 or slope."""
    x = a.array
    positive = x > 0
    out = np.where(positive, x, x * negative_slope)
    return record(out, (a,), lambda g: (np.where(positive, g, g * negative_slope),), "leaky_relu")


def elu(a, alpha=1.0):
    """x for x > 0, else α(eˣ − 1) (Clevert et al., 2016);  derivative 1, or y + α for x ≤ 0."""
    x = a.array
    positive = x > 0
    out = np.where(positive, x, alpha * np.expm1(np.minimum(x, 0)))
    return record(out, (a,), lambda g: (np.where(positive, g, g * (out + alpha)),), "elu")


def sigmoid(a):
    """σ(x) = 1 / (1 + e⁻ˣ) (stable for large |x|);  σ'(x) = σ(x)(1 − σ(x))."""
    out = special.expit(a.array)
    return record(out, (a,), lambda g: (g * out * (1 - out),), "sigmoid")


def tanh(a):
    """tanh x;  derivative 1 − tanh² x."""
    out = np.tanh(a.array)
    return record(out, (a,), lambda g: (g * (1 - out * out),), "tanh")


def gelu(a, approximate="none"):
    """GELU(x) = x Φ(x) (Hendrycks & Gimpel, 2016), Φ the standard normal CDF (float32: one compiled pass each
    way, :mod:`descend.kernels.activation`).

    ``approximate='tanh'``: 0.5 x (1 + tanh(√(2/π)(x + 0.044715 x³))), as in PyTorch.
    Exact derivative: Φ(x) + x φ(x).
    """
    x = a.array
    if approximate == "none" and x.dtype == np.float32 and kernels.enabled():
        out, slope = gelu_kernels.gelu_forward(x)
        return record(out, (a,), lambda g: (gelu_kernels.gelu_backward(g, slope),), "gelu")
    if approximate == "none":
        cdf = 0.5 * (1.0 + special.erf(x * _INV_SQRT_2))
        out = x * cdf

        def backward(g):
            pdf = np.exp(-0.5 * x * x) * _INV_SQRT_2PI
            return (g * (cdf + x * pdf),)
    elif approximate == "tanh":
        inner = _SQRT_2_OVER_PI * (x + 0.044715 * x ** 3)
        t = np.tanh(inner)
        out = 0.5 * x * (1.0 + t)

        def backward(g):
            d_inner = _SQRT_2_OVER_PI * (1.0 + 3 * 0.044715 * x * x)
            return (g * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * d_inner),)
    else:
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return record(out, (a,), backward, "gelu")


def silu(a):
    """SiLU / Swish: x σ(x) (Ramachandran et al., 2017);  derivative σ(x)(1 + x(1 − σ(x)))."""
    x = a.array
    s = special.expit(x)
    out = x * s
    return record(out, (a,), lambda g: (g * s * (1 + x * (1 - s)),), "silu")


swish = silu


def identity(a):
    return a
