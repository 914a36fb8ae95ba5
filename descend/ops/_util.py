"""Helpers shared by the operations: operand conversion, broadcasting and axis arguments."""

from __future__ import annotations

import numbers

import numpy as np

from ..tensor import Tensor


def operand(x, like: Tensor | None = None):
    """A Tensor, or a Python number kept as is (so float32 stays float32 under NumPy's promotion rules)."""
    if isinstance(x, Tensor):
        return x
    if type(x) in (float, int, bool):
        return x
    if isinstance(x, (np.generic, numbers.Number)) and not isinstance(x, np.ndarray):
        # a NumPy scalar (np.float64 even subclasses float) -> a Python number, so it cannot promote
        return x.item() if hasattr(x, "item") else x
    arr = np.asarray(x)
    if like is not None and like.array.dtype.kind == "f" and arr.dtype.kind in "fiub":
        arr = arr.astype(like.array.dtype, copy=False)
    elif arr.dtype.kind == "f" and arr.dtype != np.float32 and like is None:
        arr = arr.astype(np.float32)
    return Tensor.from_array(arr)


def binary_operands(a, b):
    """Both operands of a binary operation, at least one of them a Tensor."""
    if isinstance(a, Tensor):
        return a, operand(b, a)
    return operand(a, b), b


def unbroadcast(g: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum a gradient back to ``shape``: the adjoint of broadcasting ``shape`` up to ``g.shape``."""
    if g.shape == shape:
        return g
    extra = g.ndim - len(shape)
    if extra:
        g = g.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape)


def broadcast_error(name: str, a_shape, b_shape) -> ValueError:
    return ValueError(f"{name}: shapes {tuple(a_shape)} and {tuple(b_shape)} cannot be broadcast together "
                      "(trailing dimensions must be equal or 1)")


def resolve_axis(axis, dim, keepdims, keepdim):
    """Accept NumPy's ``axis``/``keepdims`` or PyTorch's ``dim``/``keepdim``."""
    if dim is not None:
        if axis is not None:
            raise TypeError("give either axis (NumPy) or dim (PyTorch), not both")
        axis = dim
    if keepdim is not None:
        keepdims = keepdim
    if isinstance(axis, list):
        axis = tuple(axis)
    return axis, bool(keepdims)


def normalize_axes(axis, ndim):
    """``axis`` as a sorted tuple of non-negative ints (all axes for None)."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, int):
        axis = (axis,)
    out = []
    for a in axis:
        if not -max(ndim, 1) <= a < max(ndim, 1):
            raise ValueError(f"axis {a} is out of range for a tensor with {ndim} dimensions")
        out.append(a % ndim if ndim else 0)
    if not ndim:  # dim 0 (or -1) of a 0-d tensor, as PyTorch allows: a reduction over nothing
        return ()
    return tuple(sorted(out))


def kept_shape(shape, axes) -> tuple:
    """The shape of a reduction over ``axes`` with keepdims: ``shape`` with those axes set to 1."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def spread(g: np.ndarray, shape, axes, keepdims: bool) -> np.ndarray:
    """The gradient of a reduction over ``axes`` written out over the input's ``shape`` (a fresh array).

    Without ``keepdims`` the reduced axes are put back as size 1 first, so ``g`` broadcasts in place.
    """
    out = np.empty(shape, dtype=g.dtype)
    if not keepdims and g.ndim:
        g = g.reshape(kept_shape(shape, axes))
    out[...] = g
    return out
