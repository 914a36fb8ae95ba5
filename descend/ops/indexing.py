"""Gathering, repeating and running sums: ``gather``, ``repeat``, ``flip``, ``cumsum``, ``masked_fill``, and
the non-differentiable lookups ``nonzero``, ``isnan``, ``isfinite``, ``sign``, ``floor``, ``ceil``, ``round``."""

from __future__ import annotations

import numpy as np

from ..tensor import Tensor, record
from .arithmetic import where


def gather(a, dim, index):
    """out[i][j][k] = a[i][index[i][j][k]][k] for ``dim`` = 1 (PyTorch's ``gather``); the gradient is added
    back at the gathered positions (repeated indices add up)."""
    x = a.array
    idx = np.asarray(index.array if isinstance(index, Tensor) else index)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"gather: index must be an integer tensor, got dtype {idx.dtype}")
    if idx.ndim != x.ndim:
        raise ValueError(f"gather: index has {idx.ndim} dimensions, input {x.ndim}; they must match")
    axis = dim % x.ndim
    if any(i != axis and idx.shape[i] > x.shape[i] for i in range(x.ndim)):
        raise ValueError(f"gather: index shape {idx.shape} exceeds input shape {x.shape} outside dim {dim}")
    region = x[tuple(slice(0, n) if i != axis else slice(None) for i, n in enumerate(idx.shape))]
    out = np.take_along_axis(region, idx, axis)

    def backward(g):
        full = np.zeros(x.shape, dtype=g.dtype)
        grid = list(np.indices(idx.shape, sparse=True))
        grid[axis] = idx
        np.add.at(full, tuple(grid), g)
        return (full,)

    return record(out, (a,), backward, "gather")


def repeat(a, *sizes):
    """Tile ``a`` ``sizes[i]`` times along each dimension (PyTorch's ``repeat``; leading new dimensions
    when ``sizes`` is longer). The gradient sums the copies."""
    sizes = tuple(sizes[0]) if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) else tuple(sizes)
    x = a.array
    if len(sizes) < x.ndim:
        raise ValueError(f"repeat: {len(sizes)} repeat counts for a tensor with {x.ndim} dimensions; give at "
                         "least one per dimension")
    base = x.reshape((1,) * (len(sizes) - x.ndim) + x.shape)
    out = np.tile(base, sizes)

    def backward(g):
        split = g.reshape([n for pair in zip(sizes, base.shape) for n in pair])
        return (split.sum(axis=tuple(range(0, 2 * len(sizes), 2))).reshape(x.shape),)

    return record(out, (a,), backward, "repeat")


def flip(a, dims):
    """Reverse the order of elements along ``dims``; the gradient is flipped back."""
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    return record(np.flip(a.array, dims), (a,), lambda g: (np.flip(g, dims),), "flip")


def cumsum(a, dim):
    """Running sum along ``dim``; the gradient is the running sum of g taken from the end."""
    x = a.array
    out = np.cumsum(x, axis=dim, dtype=x.dtype if x.dtype.kind == "f" else np.int64)
    return record(out, (a,), lambda g: (np.flip(np.cumsum(np.flip(g, dim), axis=dim), dim),), "cumsum")


def masked_fill(a, mask, value):
    """``value`` where ``mask`` is True, else ``a`` (``mask`` broadcasts); no gradient reaches the filled places."""
    mask = np.asarray(mask.array if isinstance(mask, Tensor) else mask)
    if mask.dtype != np.bool_:
        raise TypeError(f"masked_fill: mask must be a boolean tensor, got dtype {mask.dtype}")
    if isinstance(value, Tensor):
        value = value.item()
    return where(mask, np.asarray(value, dtype=a.array.dtype), a)


def _lookup(fn, name):
    def op(a):
        return Tensor.from_array(np.asarray(fn(a.array)))
    op.__name__ = name
    op.__doc__ = f"Element-wise ``{name}`` (not differentiable: a constant, as its gradient is 0 almost everywhere)."
    return op


isnan = _lookup(np.isnan, "isnan")
isfinite = _lookup(np.isfinite, "isfinite")
isinf = _lookup(np.isinf, "isinf")
sign = _lookup(lambda x: np.where(np.isnan(x), np.zeros((), x.dtype), np.sign(x)), "sign")  # sign(NaN) = 0 (PyTorch)
floor = _lookup(np.floor, "floor")
ceil = _lookup(np.ceil, "ceil")
round = _lookup(np.round, "round")


def nonzero(a, *, as_tuple=False):
    """Indices of the non-zero elements: an int64 (n, ndim) tensor, or one index tensor per dimension."""
    found = np.nonzero(a.array)
    if as_tuple:
        return tuple(Tensor.from_array(i.astype(np.int64)) for i in found)
    return Tensor.from_array(np.stack(found, axis=1).astype(np.int64) if found else np.zeros((0, 0), np.int64))
