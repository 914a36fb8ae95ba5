"""Matrix products.

For C = A @ B: dL/dA = dL/dC @ Bᵀ and dL/dB = Aᵀ @ dL/dC, with 1-D operands treated as a row (A) or a
column (B) vector and broadcast batch dimensions summed back.
"""

from __future__ import annotations

import numpy as np

from .. import buffers, layout
from ..autograd import is_grad_enabled
from ..tensor import Tensor, record
from .activation import relu_gradient, relu_in_place
from ._util import operand, unbroadcast


def matmul(a, b):
    """Matrix product with NumPy's rules: 1-D, 2-D and batched with broadcasting."""
    a = a if isinstance(a, Tensor) else operand(a, b if isinstance(b, Tensor) else None)
    b = b if isinstance(b, Tensor) else operand(b, a)
    x, y = a.array, b.array
    if x.ndim == 0 or y.ndim == 0:
        raise ValueError(f"matmul needs tensors with at least one dimension, got shapes {x.shape} and {y.shape}; "
                         "use * for scalars")
    try:
        out = x @ y
    except ValueError:
        raise _matmul_error(x.shape, y.shape) from None

    if x.ndim == 2 and y.ndim == 2:
        def backward(g):
            return (g @ y.T if a.requires_grad else None, x.T @ g if b.requires_grad else None)
        return record(out, (a, b), backward, "matmul")

    x2 = x[None, :] if x.ndim == 1 else x
    y2 = y[:, None] if y.ndim == 1 else y
    out2_shape = np.broadcast_shapes(x2.shape[:-2], y2.shape[:-2]) + (x2.shape[-2], y2.shape[-1])

    def backward(g):
        g2 = g.reshape(out2_shape)
        ga = gb = None
        if a.requires_grad:
            ga = unbroadcast(g2 @ np.swapaxes(y2, -1, -2), x2.shape).reshape(x.shape)
        if b.requires_grad:
            gb = unbroadcast(np.swapaxes(x2, -1, -2) @ g2, y2.shape).reshape(y.shape)
        return ga, gb

    return record(out, (a, b), backward, "matmul")


#: Elements per row of the repeated bias in :func:`add_bias_rows` (64 KiB of float32: stays in L1/L2).
_BIAS_TILE = 1 << 14


def add_bias_rows(out, b):
    """out ← out + b for a bias b of one value per column (the last dimension), in place.

    NumPy broadcasts b by running its inner loop once per row, which over rows of a few hundred features
    takes about 1.5× a plain elementwise pass (1024×512 float32: 78 µs against 53 µs below). For a
    C-ordered 2-D ``out`` of the same dtype and at least 65,536 elements (below that the tile costs more
    than it saves), k = ⌊16384 / n⌋ rows at a time are read as one long row and added to b repeated k times
    (a small tile made on each call, so a bias changed in place is seen); the rows left over, and every
    other case, use the broadcast. The same additions: the same results, bit for bit."""
    m, n = out.shape if out.ndim == 2 else (0, 0)
    k = _BIAS_TILE // n if 0 < n else 0
    if k < 2 or m * n < 4 * _BIAS_TILE or b.shape != (n,) or b.dtype != out.dtype or not out.flags.c_contiguous:
        out += b
        return
    full = m - m % k
    tile = np.empty((k, n), out.dtype)
    tile[...] = b
    rows = out[:full].reshape(full // k, k * n)
    np.add(rows, tile.reshape(k * n), out=rows)
    if full < m:
        out[full:] += b


def column_sums(g2: np.ndarray) -> np.ndarray:
    """Σ_rows g2 for a (rows, n) array, as the product 1ᵀ g2 (a BLAS matrix-vector product).

    ``np.add.reduce(g2, axis=0)`` adds row by row in a loop NumPy does not vectorise well over a few
    hundred columns; the product reads g2 once at BLAS speed (float32, one thread: (1024, 64) 23 µs → 3.6 µs,
    (1024, 256) 40 µs → 15 µs) and, accumulating in blocks, is no less accurate (error against a float64
    sum measured 1.5–3× smaller). Below 64 rows the reduction stays (the product's call costs more there:
    (32, 10) 1.3 µs reduced, 2.0 µs as a product)."""
    if g2.shape[0] < 64 or g2.dtype.kind != "f" or g2.dtype.itemsize < 4:
        return np.add.reduce(g2, axis=0)
    return np.ones(g2.shape[0], g2.dtype) @ g2


def _matmul_error(a_shape, b_shape) -> ValueError:
    inner = b_shape[0] if len(b_shape) == 1 else b_shape[-2]
    if a_shape[-1] != inner:
        why = (f"the last dimension of the first ({a_shape[-1]}) must equal the "
               f"{'only' if len(b_shape) == 1 else 'second-to-last'} dimension of the second ({inner})")
    else:
        why = (f"the batch dimensions {a_shape[:-2]} and {b_shape[:-2]} cannot be broadcast together "
               "(trailing dimensions must be equal or 1)")
    return ValueError(f"matmul: shapes {a_shape} and {b_shape} do not fit: {why}")


def linear(x, weight, bias=None):
    """y = x Wᵀ + b, fused: one node, with dL/dx = g W, dL/dW = gᵀ x (over all leading dimensions),
    dL/db = Σ g. ``weight`` is (out_features, in_features) as in PyTorch."""
    return _linear(x, weight, bias, relu=False)


def linear_relu(x, weight, bias=None):
    """y = max(0, x Wᵀ + b), one node: the values of ``relu(linear(x, weight, bias))`` bit for bit, with the
    maximum taken in place on the product's own output (no second array) and, for backward, only a byte
    mask kept (y > 0, or NaN, which passes its gradient on as in ReLU): dL/dz = g·[mask], then the
    linear backward. :meth:`Linear.fuse_next <descend.nn.Linear.fuse_next>` offers it for a Linear directly
    followed by a ReLU (:mod:`descend.nn.fusion`)."""
    return _linear(x, weight, bias, relu=True)


def _linear(x, weight, bias, relu: bool):
    """The one node of :func:`linear` (``relu=False``) and :func:`linear_relu` (``relu=True``)."""
    name = "linear_relu" if relu else "linear"
    x = x if isinstance(x, Tensor) else operand(x, weight)
    xd, w = x.array, weight.array
    if xd.shape[-1] != w.shape[1]:
        raise ValueError(f"{name}: input of shape {xd.shape} has {xd.shape[-1]} features but the weight of shape "
                         f"{w.shape} expects {w.shape[1]} (in_features)")
    if xd.ndim > 2 and xd.dtype == w.dtype:
        # (…, in) as one (rows, in) product: NumPy's matmul of a stack by a matrix runs one small product per
        # leading index, a sequence model's (batch, steps, features) one product per sample
        x2 = xd.reshape(-1, xd.shape[-1])
        out = np.matmul(x2, w.T, out=buffers.empty((x2.shape[0], w.shape[0]), w.dtype))
        out = out.reshape(xd.shape[:-1] + (w.shape[0],))
    elif xd.ndim == 2 and xd.dtype == w.dtype:
        out = np.matmul(xd, w.T, out=buffers.empty((xd.shape[0], w.shape[0]), w.dtype))
    else:
        out = xd @ w.T
    if bias is not None:
        add_bias_rows(out, bias.array)
    parents = (x, weight) if bias is None else (x, weight, bias)
    positive, out_dtype = None, out.dtype
    if relu:
        positive = relu_in_place(out, is_grad_enabled() and any(p.requires_grad for p in parents))
    w_transposed = layout.is_transposed(w)  # a Linear layer's weight: dL/dW is made in the same layout

    def backward(g):
        if positive is not None:
            g = relu_gradient(g, positive, out_dtype)
        if x.requires_grad:
            if g.ndim >= 2 and g.dtype == w.dtype:
                g2 = g.reshape(-1, g.shape[-1])
                gx = np.matmul(g2, w, out=buffers.empty((g2.shape[0], w.shape[1]), w.dtype))
                gx = gx.reshape(g.shape[:-1] + (w.shape[1],))
            else:
                gx = g @ w
        else:
            gx = None
        gw = gb = None
        if weight.requires_grad:
            g2 = g.reshape(-1, g.shape[-1])
            x2 = xd.reshape(-1, xd.shape[-1])
            # dL/dW in the weight's own memory layout (a transposed weight gets (xᵀ g)ᵀ; see descend.layout)
            gw = (x2.T @ g2).T if w_transposed else g2.T @ x2
        if bias is not None and bias.requires_grad:
            gb = column_sums(g.reshape(-1, g.shape[-1]))
        return (gx, gw) if bias is None else (gx, gw, gb)

    return record(out, parents, backward, name)
