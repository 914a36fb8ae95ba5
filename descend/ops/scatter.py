"""``scatter`` and ``scatter_add`` (and their in-place forms ``scatter_`` / ``scatter_add_``): the adjoints of
``gather``, as PyTorch's.

For ``dim`` = 0 of a 3-D tensor: scatter writes out[index[i][j][k]][j][k] = src[i][j][k], scatter_add adds it
(repeated indices add up); every other element of out is input's. Only the leading ``index.shape`` block of
``src`` is read. Gradients: scatter passes dL/dout to input except at the written places, and to src the
gathered gradient, src_grad[i][j][k] = g[index[i][j][k]][j][k]; scatter_add passes g to input unchanged and the
same gathered gradient to src. (Where scatter writes one place twice, which write wins is unspecified, as in
PyTorch.)
"""

from __future__ import annotations

import numbers

import numpy as np

from ..autograd import is_grad_enabled
from ..tensor import Tensor, record


def _prepare(name, input, dim, index, src):
    """(axis, index grid, index array, src block or scalar) after PyTorch's checks."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}: input must be a tensor, got {type(input).__name__}")
    x = input.array
    idx = np.asarray(index.array if isinstance(index, Tensor) else index)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{name}: index must be an integer (int64) tensor, got dtype {idx.dtype}")
    if idx.ndim != x.ndim:
        raise ValueError(f"{name}: index has {idx.ndim} dimensions, input {x.ndim}; they must match")
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or not -max(x.ndim, 1) <= dim < max(x.ndim, 1):
        raise ValueError(f"{name}: dim {dim!r} is out of range for a tensor with {x.ndim} dimensions")
    axis = int(dim) % max(x.ndim, 1)
    if any(i != axis and idx.shape[i] > x.shape[i] for i in range(x.ndim)):
        raise ValueError(f"{name}: index shape {idx.shape} exceeds input shape {x.shape} outside dim {dim}")
    if idx.size and (idx.min() < 0 or idx.max() >= x.shape[axis]):
        raise ValueError(f"{name}: index values must lie in [0, {x.shape[axis]}) along dim {dim}, got "
                         f"[{idx.min()}, {idx.max()}]")
    if isinstance(src, Tensor):
        s = src.array
        if s.dtype != x.dtype:
            raise TypeError(f"{name}: src dtype {s.dtype} differs from input dtype {x.dtype}; convert one with .to()")
        if s.ndim != x.ndim or any(i > n for i, n in zip(idx.shape, s.shape)):
            raise ValueError(f"{name}: index shape {idx.shape} exceeds src shape {s.shape}")
        block = s[tuple(slice(0, n) for n in idx.shape)]
    elif isinstance(src, numbers.Number) and not isinstance(src, np.ndarray):
        block = np.asarray(src).astype(x.dtype)
    else:
        raise TypeError(f"{name}: src must be a tensor or a number (value=), got {type(src).__name__}")
    grid = list(np.indices(idx.shape, sparse=True))
    grid[axis] = idx
    return tuple(grid), block


def _source(name, src, value):
    if value is not None:
        if src is not None:
            raise TypeError(f"{name}: give src or value, not both")
        return value
    if src is None:
        raise TypeError(f"{name}: missing src (a tensor) or value (a number)")
    return src


def _check_reduce(name, reduce):
    if reduce is not None:
        raise ValueError(f"{name}: reduce={reduce!r} is not supported; use scatter_add for 'add'")


def scatter(input, dim, index, src=None, *, value=None, reduce=None):
    """out = input with out[index[i][j][k]][j][k] = src[i][j][k] (for dim 0); ``src`` a tensor or a number."""
    _check_reduce("scatter", reduce)
    src = _source("scatter", src, value)
    grid, block = _prepare("scatter", input, dim, index, src)
    out = input.array.copy()
    out[grid] = block
    src_t = src if isinstance(src, Tensor) else None

    def backward(g):
        g_in = None
        if input.requires_grad:
            g_in = g.copy()
            g_in[grid] = 0
        return (g_in,) if src_t is None else (g_in, _gathered(g, grid, src_t) if src_t.requires_grad else None)

    return record(out, (input,) if src_t is None else (input, src_t), backward, "scatter")


def scatter_add(input, dim, index, src):
    """out = input with src[i][j][k] added at out[index[i][j][k]][j][k] (for dim 0; repeated indices add up)."""
    grid, block = _prepare("scatter_add", input, dim, index, src)
    if not isinstance(src, Tensor):
        raise TypeError(f"scatter_add: src must be a tensor, got {type(src).__name__}")
    out = input.array.copy()
    np.add.at(out, grid, block)

    def backward(g):
        return (g if input.requires_grad else None, _gathered(g, grid, src) if src.requires_grad else None)

    return record(out, (input, src), backward, "scatter_add")


def _gathered(g, grid, src):
    """src's gradient: g read at the scattered places, zero outside the index block."""
    block = g[grid]
    if block.shape == src.array.shape:
        return np.ascontiguousarray(block)
    full = np.zeros(src.array.shape, dtype=g.dtype)
    full[tuple(slice(0, n) for n in block.shape)] = block
    return full


def _check_inplace(name, input, src):
    if is_grad_enabled() and (input.requires_grad or (isinstance(src, Tensor) and src.requires_grad)):
        raise RuntimeError(f"{name} on a tensor that requires grad (or from a src that does) is not recorded in the "
                           f"graph; use the out-of-place {name[:-1]}(...) or do it inside `with descend.no_grad():`")


def scatter_(input, dim, index, src=None, *, value=None, reduce=None):
    """In-place :func:`scatter` (outside the graph); returns ``input``."""
    _check_reduce("scatter_", reduce)
    src = _source("scatter_", src, value)
    _check_inplace("scatter_", input, src)
    grid, block = _prepare("scatter_", input, dim, index, src)
    input.array[grid] = block
    return input


def scatter_add_(input, dim, index, src):
    """In-place :func:`scatter_add` (outside the graph); returns ``input``."""
    _check_inplace("scatter_add_", input, src)
    if not isinstance(src, Tensor):
        raise TypeError(f"scatter_add_: src must be a tensor, got {type(src).__name__}")
    grid, block = _prepare("scatter_add_", input, dim, index, src)
    np.add.at(input.array, grid, block)
    return input
