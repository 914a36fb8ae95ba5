"""``prod``: the product of a tensor's elements, over everything or along one dimension, as PyTorch's.

y = Π_i x_i. The gradient is dy/dx_i = Π_{j≠i} x_j, computed as the product of the exclusive running
products from the left and from the right (no division), so zeros are exact: with one zero in a slice only
that element gets a gradient (the product of the others), with two or more every gradient is 0 — PyTorch's
results.
"""

from __future__ import annotations

import numpy as np

from ..tensor import Tensor, record


def _out_dtype(x, dtype):
    if dtype is not None:
        return np.dtype(dtype)
    return x.dtype if x.dtype.kind in "fc" else np.dtype(np.int64)  # integers and bools multiply as int64


def _others_product(x: np.ndarray, axis: int) -> np.ndarray:
    """Π_{j≠i} x_j along ``axis`` for every i: left-exclusive running product × right-exclusive one."""
    n = x.shape[axis]
    ones = np.ones_like(np.take(x, [0], axis=axis))
    left = np.concatenate([ones, np.cumprod(np.take(x, range(n - 1), axis=axis), axis=axis)], axis=axis)
    rev = np.flip(x, axis)
    right = np.concatenate([ones, np.cumprod(np.take(rev, range(n - 1), axis=axis), axis=axis)], axis=axis)
    return left * np.flip(right, axis)


def prod(input, dim=None, keepdim=False, *, dtype=None):
    """Π of the elements (``dim=None``), or along ``dim`` (an int) keeping it as size 1 when ``keepdim``;
    integer and bool tensors give int64 (PyTorch's promotion), ``dtype=`` casts the input first."""
    if not isinstance(input, Tensor):
        raise TypeError(f"prod: input must be a tensor, got {type(input).__name__}")
    x = input.array
    out_dtype = _out_dtype(x, dtype)
    if x.dtype != out_dtype:
        x = x.astype(out_dtype)
    if dim is None:
        if keepdim:
            raise TypeError("prod: keepdim needs a dim (PyTorch's prod(input) takes none)")
        out = np.prod(x, dtype=out_dtype)
        shape = x.shape

        def backward(g):
            flat = x.reshape(-1)
            others = _others_product(flat, 0) if flat.size else flat
            return ((g * others).reshape(shape).astype(input.array.dtype, copy=False),)

        return record(np.asarray(out), (input,), backward, "prod")
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"prod: dim must be an int (one dimension), got {dim!r}")
    nd = max(x.ndim, 1)
    if not -nd <= dim < nd:
        raise ValueError(f"prod: dim {dim} is out of range for a tensor with {x.ndim} dimensions")
    if x.ndim == 0:
        return record(x.copy(), (input,), lambda g: (g.astype(input.array.dtype, copy=False),), "prod")
    axis = int(dim) % x.ndim
    out = np.prod(x, axis=axis, keepdims=bool(keepdim), dtype=out_dtype)

    def backward(g):
        gk = g if keepdim else np.expand_dims(g, axis)
        others = _others_product(x, axis) if x.shape[axis] else x
        return ((gk * others).astype(input.array.dtype, copy=False),)

    return record(out, (input,), backward, "prod")
