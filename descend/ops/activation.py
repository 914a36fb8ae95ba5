"""Activation functions, each with its closed-form derivative."""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from .. import buffers, kernels
from ..kernels import activation as activation_kernels
from ..autograd import is_grad_enabled
from ..tensor import record

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def relu(a):
    """max(0, x);  derivative 1 for x > 0, else 0.

    The output keeps the input's memory layout and comes from :mod:`descend.buffers`. With a gradient to
    come, the output and the backward mask (one byte per element; the output itself is not kept) are written
    in one compiled pass (:func:`descend.kernels.activation.relu_forward`), else the maximum runs against a
    row of zeros rather than the scalar 0 (NumPy's vectorised loop for two arrays is about twice as fast), in
    memory order. NaN stays NaN and passes its gradient on; the gradient is g where x > 0 (or x is NaN) and 0
    elsewhere, as PyTorch's.
    """
    x = a.array
    out = buffers.empty_like(x)
    if not (a.requires_grad and is_grad_enabled()):
        max_with_zero(x, out)
        return record(out, (a,), None, "relu")
    positive = _relu_into(x, out, True)
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


def _flat_alike(*arrays):
    """The arrays as 1-D views in one memory order (the compiled ReLU passes' operands), or None when one is
    not a contiguous block or their orders differ (an element of one would meet another's element of a
    different index)."""
    first = arrays[0]
    if all(a.flags.c_contiguous for a in arrays):
        return [a.reshape(-1) for a in arrays]
    order = buffers.dense_order(first)
    if order is None or any(a.shape != first.shape or buffers.dense_order(a) != order for a in arrays[1:]):
        return None
    return [a.transpose(order).reshape(-1) for a in arrays]


def _compiled_relu(x, out) -> bool:
    """Whether the compiled ReLU passes take input ``x`` and output ``out``: kernels on, floating point data of
    one dtype, at least :data:`_COMPILED_FROM` elements."""
    return kernels.enabled() and x.dtype.kind == "f" and x.dtype == out.dtype and x.size >= _COMPILED_FROM


#: Elements from which the compiled ReLU passes run (below, NumPy's loops cost less than a kernel call).
_COMPILED_FROM = 1 << 10


def relu_mask(y):
    """ReLU's backward mask from its output y: not (y <= 0), so that a NaN passes its gradient on, as in
    PyTorch (one byte per element, from :mod:`descend.buffers`, in y's layout)."""
    positive = buffers.empty_like(y, np.bool_)
    return np.logical_not(np.less_equal(y, 0, out=positive), out=positive)


def relu_in_place(y, keep_mask: bool):
    """y ← max(y, 0) on a layer's own output (the fused ``linear_relu`` and ``conv2d_relu``); returns the
    backward mask (:func:`relu_mask`) when ``keep_mask``, else None."""
    return _relu_into(y, y, keep_mask)


def _relu_into(y, out, keep_mask: bool):
    """out ← max(y, 0) (``out`` is ``y`` itself, or laid out as ``y``), and the backward mask when ``keep_mask``
    (else None). With the mask, one compiled pass writes both where the kernels run."""
    if keep_mask and _compiled_relu(y, out):
        positive = buffers.empty_like(out, np.bool_)
        flats = _flat_alike(y, positive, out)
        if flats is not None:
            activation_kernels.relu_forward(flats[0], flats[0] if out is y else flats[2], flats[1])
            return positive
    max_with_zero(y, out)
    return relu_mask(out) if keep_mask else None


def relu_gradient(g, positive, out_dtype):
    """dL/dx = g where ``positive``, else 0, for ReLU's output dtype ``out_dtype``, in a recycled buffer laid
    out as g, or as the mask when g's layout differs (a copy into the mask's layout, then one pass in order,
    beats one pass reading the two in different orders). One compiled pass where the kernels run; NumPy's
    g·[positive] otherwise (which differs only where g is NaN or infinite at a unit that is off: NaN there,
    0 from the kernel and from PyTorch)."""
    dtype = np.result_type(g.dtype, out_dtype)
    if g.ndim >= 3 and not (g.flags.c_contiguous and positive.flags.c_contiguous):
        order = buffers.dense_order(positive)
        if order is not None and buffers.stride_order(g) != order:
            gx = buffers.copy_ordered(g.astype(dtype, copy=False), order)
            return _masked(gx, positive, gx)
    return _masked(g, positive, buffers.empty_like(g, dtype))


def _masked(g, positive, out):
    """out ← g where ``positive``, else 0 (compiled, in memory order, where the operands allow), or
    g·positive."""
    if _compiled_relu(g, out):
        flats = _flat_alike(g, positive, out)
        if flats is not None:
            activation_kernels.relu_backward(flats[0], flats[1], flats[0] if out is g else flats[2])
            return out
    return np.multiply(g, positive, out=out)


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
        out, slope = activation_kernels.gelu_forward(x)
        return record(out, (a,), lambda g: (activation_kernels.gelu_backward(g, slope),), "gelu")
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
