"""Operations that return values *and* their indices: ``max``/``min`` along a dimension, ``sort``, ``topk``.

Each returns a named tuple ``(values, indices)`` as PyTorch's ``torch.return_types``. The values are
differentiable: the gradient of ``values`` goes back to the positions ``indices`` points at (a scatter), so
at ties only the chosen element gets it, as in PyTorch. ``argsort`` gives the indices alone.
"""

from __future__ import annotations

import collections

import numpy as np

from ..tensor import Tensor, record

max_result = collections.namedtuple("max", ["values", "indices"])
min_result = collections.namedtuple("min", ["values", "indices"])
sort_result = collections.namedtuple("sort", ["values", "indices"])
topk_result = collections.namedtuple("topk", ["values", "indices"])


def _dim(dim, ndim, name):
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{name}: dim must be an int, got {dim!r}")
    if not -max(ndim, 1) <= dim < max(ndim, 1):
        raise ValueError(f"{name}: dim {dim} is out of range for a tensor with {ndim} dimensions")
    return int(dim) % max(ndim, 1)


def _gathered(a, idx, axis, name):
    """``take_along_axis(a, idx, axis)`` recorded so that the gradient is scattered back to ``idx``."""
    x = a.array
    if x.ndim == 0:
        return record(x.copy(), (a,), lambda g: (np.asarray(g, dtype=x.dtype).reshape(()),), name)
    out = np.take_along_axis(x, idx, axis)

    def backward(g):
        full = np.zeros(x.shape, dtype=g.dtype)
        np.put_along_axis(full, idx, g.reshape(idx.shape), axis)
        return (full,)

    return record(out, (a,), backward, name)


def extreme_along(a, dim, keepdim, largest, name):
    """``(values, indices)`` of the maximum (``largest``) or minimum along ``dim``; the first one at ties."""
    x = a.array
    axis = _dim(dim, x.ndim, name)
    if x.ndim and x.shape[axis] == 0:
        raise ValueError(f"{name}(): dim {dim} of a tensor of shape {x.shape} is empty")
    if x.ndim == 0:
        idx = np.zeros((), dtype=np.int64)
        values = _gathered(a, idx, axis, name)
        return (max_result if largest else min_result)(values, Tensor.from_array(idx))
    idx = (np.argmax if largest else np.argmin)(x, axis=axis, keepdims=True).astype(np.int64, copy=False)
    values = _gathered(a, idx, axis, name)
    if not keepdim:
        values = values.squeeze(axis)
        idx = idx.squeeze(axis)
    return (max_result if largest else min_result)(values, Tensor.from_array(idx))


def _order(x, axis, descending, stable=True):
    if not descending:
        return np.argsort(x, axis=axis, kind="stable")
    if x.dtype.kind in "ub":
        x = x.astype(np.int64)
    # descending and stable: sort the negation (NaN, the largest for PyTorch, comes first as there)
    key = np.where(np.isnan(x), -np.inf, -x) if x.dtype.kind == "f" else -x
    return np.argsort(key, axis=axis, kind="stable")


def sort(a, dim=-1, descending=False, stable=False):
    """``(values, indices)`` of ``a`` sorted along ``dim`` (ascending unless ``descending``).

    Equal elements keep their order (a stable sort, whatever ``stable`` says: PyTorch allows any order).
    """
    x = a.array
    axis = _dim(dim, x.ndim, "sort")
    idx = _order(x, axis, descending) if x.ndim else np.zeros((), dtype=np.int64)
    return sort_result(_gathered(a, idx, axis, "sort"), Tensor.from_array(idx.astype(np.int64, copy=False)))


def argsort(a, dim=-1, descending=False, stable=False):
    """The indices that sort ``a`` along ``dim`` (see :func:`sort`)."""
    return sort(a, dim, descending, stable).indices


def topk(a, k, dim=-1, largest=True, sorted=True):
    """``(values, indices)`` of the ``k`` largest (or smallest) elements along ``dim``, largest first."""
    x = a.array
    axis = _dim(dim, x.ndim, "topk")
    n = x.shape[axis] if x.ndim else 1
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= k <= n:
        raise ValueError(f"topk: k={k!r} must be an integer in [0, {n}] (the size of dim {dim})")
    if x.ndim == 0:
        return topk_result(_gathered(a, np.zeros((), np.int64), 0, "topk"), Tensor.from_array(np.zeros((), np.int64)))
    idx = np.take(_order(x, axis, largest), np.arange(k), axis=axis).astype(np.int64, copy=False)
    return topk_result(_gathered(a, idx, axis, "topk"), Tensor.from_array(idx))
