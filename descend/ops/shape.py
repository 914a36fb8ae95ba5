"""Shape and indexing operations: their backward moves the gradient back to where each element came from."""

from __future__ import annotations

import numpy as np

from ..tensor import Tensor, record
from ._util import operand


def _shape_arg(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def reshape(a, *shape):
    """Same elements, new shape (one dimension may be −1)."""
    shape = _shape_arg(shape)
    x = a.array
    try:
        out = x.reshape(shape)
    except ValueError:
        raise ValueError(f"reshape: cannot reshape a tensor of shape {x.shape} ({x.size} elements) into "
                         f"{shape}") from None
    return record(out, (a,), lambda g: (g.reshape(x.shape),), "reshape")


def flatten(a, start_dim=0, end_dim=-1):
    """Merge dimensions ``start_dim``..``end_dim`` into one (PyTorch's ``flatten``)."""
    shape = a.array.shape
    if not shape:
        return reshape(a, (1,))
    start = start_dim % len(shape)
    end = end_dim % len(shape)
    merged = 1
    for n in shape[start:end + 1]:
        merged *= n
    return reshape(a, shape[:start] + (merged,) + shape[end + 1:])


def transpose(a, *axes):
    """Permute axes. With no axes: reverse them (``.T``); with two ints (PyTorch's ``transpose(d0, d1)``):
    swap those two; with a full permutation: apply it (NumPy's ``transpose``)."""
    x = a.array
    axes = _shape_arg(axes)
    if not axes:
        perm = tuple(reversed(range(x.ndim)))
    elif len(axes) == 2:
        d0, d1 = (ax % x.ndim for ax in axes)
        perm = list(range(x.ndim))
        perm[d0], perm[d1] = perm[d1], perm[d0]
        perm = tuple(perm)
    else:
        perm = tuple(ax % x.ndim for ax in axes)
    return permute(a, perm)


def permute(a, *dims):
    """Reorder the axes by ``dims``; the gradient is permuted back by the inverse permutation."""
    perm = tuple(d % max(a.array.ndim, 1) for d in _shape_arg(dims))
    if sorted(perm) != list(range(a.array.ndim)):
        raise ValueError(f"permute: {perm} is not a permutation of the {a.array.ndim} axes of a tensor of shape "
                         f"{a.array.shape}")
    inverse = tuple(np.argsort(perm))
    return record(a.array.transpose(perm), (a,), lambda g: (g.transpose(inverse),), "permute")


def swapaxes(a, axis1, axis2):
    return transpose(a, axis1, axis2)


def squeeze(a, axis=None, *, dim=None):
    """Drop dimensions of size 1 (all of them, or those named by ``axis``)."""
    if dim is not None:
        axis = dim
    x = a.array
    if axis is None:
        out = x.squeeze()
    else:
        axes = (axis,) if isinstance(axis, int) else tuple(axis)
        axes = tuple(ax for ax in axes if x.shape[ax] == 1)  # PyTorch leaves other sizes alone
        out = x.squeeze(axis=axes) if axes else x
    return record(out, (a,), lambda g: (g.reshape(x.shape),), "squeeze")


def unsqueeze(a, axis=None, *, dim=None):
    """Insert a dimension of size 1 at ``axis``."""
    if dim is not None:
        axis = dim
    if axis is None:
        raise TypeError("unsqueeze needs the position of the new axis (axis= or dim=)")
    x = a.array
    out = np.expand_dims(x, axis)
    return record(out, (a,), lambda g: (g.reshape(x.shape),), "unsqueeze")


def expand_dims(a, axis):
    return unsqueeze(a, axis)


def broadcast_to(a, *shape):
    """Repeat along broadcast dimensions; the gradient is summed back."""
    from ._util import unbroadcast
    shape = _shape_arg(shape)
    x = a.array
    try:
        out = np.broadcast_to(x, shape)
    except ValueError:
        raise ValueError(f"broadcast_to: a tensor of shape {x.shape} cannot be broadcast to {shape}") from None
    return record(out, (a,), lambda g: (unbroadcast(g, x.shape),), "broadcast_to")


def expand(a, *shape):
    shape = _shape_arg(shape)
    shape = tuple(a.array.shape[i - (len(shape) - a.array.ndim)] if n == -1 else n for i, n in enumerate(shape))
    return broadcast_to(a, shape)


def _is_advanced(index):
    parts = index if isinstance(index, tuple) else (index,)
    for p in parts:
        if isinstance(p, (list, np.ndarray)) and np.asarray(p).dtype != bool:
            return True
    return False


def _plain_index(index):
    if isinstance(index, Tensor):
        return index.array
    if isinstance(index, tuple):
        return tuple(p.array if isinstance(p, Tensor) else p for p in index)
    return index


def getitem(a, index):
    """``a[index]`` with basic slicing, boolean masks and integer arrays.

    The backward scatters the gradient into zeros of ``a``'s shape; repeated integer indices add up
    (``np.add.at``).
    """
    index = _plain_index(index)
    x = a.array
    try:
        out = x[index]
    except IndexError as e:
        raise IndexError(f"index {index!r} is out of range for a tensor of shape {x.shape}: {e}") from None
    advanced = _is_advanced(index)

    def backward(g):
        full = np.zeros(x.shape, dtype=g.dtype)
        if advanced:
            np.add.at(full, index, g)
        else:
            full[index] = g
        return (full,)

    return record(out, (a,), backward, "getitem")


def concatenate(tensors, axis=0, *, dim=None):
    """Join tensors along an existing axis; the gradient is split back into the pieces."""
    if dim is not None:
        axis = dim
    tensors = [t if isinstance(t, Tensor) else operand(t) for t in tensors]
    if not tensors:
        raise ValueError("concatenate needs at least one tensor")
    try:
        out = np.concatenate([t.array for t in tensors], axis=axis)
    except ValueError:
        raise ValueError("concatenate: shapes " + ", ".join(str(t.array.shape) for t in tensors) +
                         f" differ outside axis {axis}") from None
    sizes = np.cumsum([t.array.shape[axis] for t in tensors])[:-1]

    def backward(g):
        return tuple(np.split(g, sizes, axis=axis))

    return record(out, tuple(tensors), backward, "concatenate")


cat = concatenate


def stack(tensors, axis=0, *, dim=None):
    """Join equal-shaped tensors along a new axis."""
    if dim is not None:
        axis = dim
    tensors = [t if isinstance(t, Tensor) else operand(t) for t in tensors]
    shapes = {t.array.shape for t in tensors}
    if len(shapes) != 1:
        raise ValueError("stack needs tensors of one shape, got " + ", ".join(str(t.array.shape) for t in tensors))
    out = np.stack([t.array for t in tensors], axis=axis)

    def backward(g):
        return tuple(np.moveaxis(g, axis, 0))

    return record(out, tuple(tensors), backward, "stack")


def pad(a, pad, mode="constant", value=0.0):
    """Pad with a constant.

    ``pad`` follows PyTorch's ``F.pad``: a flat sequence ``(left, right, top, bottom, ...)`` starting from
    the last dimension; NumPy's per-axis form ``((before, after), ...)`` is accepted too. The gradient is
    the slice of the output gradient where the input sits.
    """
    if mode != "constant":
        raise ValueError(f"pad mode {mode!r} is not supported; use mode='constant'")
    x = a.array
    pad = list(pad)
    if pad and isinstance(pad[0], (tuple, list)):
        width = [tuple(p) for p in pad]
        if len(width) != x.ndim:
            raise ValueError(f"pad: {len(width)} (before, after) pairs given for a tensor with {x.ndim} dimensions")
    else:
        if len(pad) % 2 or len(pad) // 2 > x.ndim:
            raise ValueError(f"pad: {tuple(pad)} must hold a (before, after) pair per padded dimension, "
                             f"at most {x.ndim} of them")
        width = [(0, 0)] * x.ndim
        for i in range(len(pad) // 2):
            width[x.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    if any(b < 0 or e < 0 for b, e in width):
        raise ValueError(f"pad: negative widths {width} are not supported")
    out = np.pad(x, width, mode="constant", constant_values=value)
    slices = tuple(slice(b, b + n) for (b, _), n in zip(width, x.shape))
    return record(out, (a,), lambda g: (g[slices],), "pad")


def _triangle(a, diagonal, keep_lower, name):
    x = a.array
    if x.ndim < 2:
        raise ValueError(f"{name} needs a tensor with at least 2 dimensions, got shape {x.shape}")
    rows, cols = x.shape[-2:]
    keep = np.tri(rows, cols, diagonal, dtype=bool) if keep_lower else ~np.tri(rows, cols, diagonal - 1, dtype=bool)
    out = np.where(keep, x, np.zeros((), x.dtype))
    return record(out, (a,), lambda g: (np.where(keep, g, np.zeros((), g.dtype)),), name)


def tril(a, diagonal=0):
    """The lower triangle of the last two dimensions: elements (i, j) with j − i ≤ ``diagonal``, others 0.
    The gradient is masked the same way."""
    return _triangle(a, diagonal, True, "tril")


def triu(a, diagonal=0):
    """The upper triangle of the last two dimensions: elements (i, j) with j − i ≥ ``diagonal``, others 0."""
    return _triangle(a, diagonal, False, "triu")


def _axis_of(a, dim, name):
    if not -max(a.array.ndim, 1) <= dim < max(a.array.ndim, 1) or a.array.ndim == 0:
        raise ValueError(f"{name}: dim {dim} is out of range for a tensor of shape {a.array.shape}")
    return dim % a.array.ndim


def narrow(a, dim, start, length):
    """Elements ``start`` .. ``start + length − 1`` along ``dim`` (a slice, as PyTorch's ``narrow``)."""
    axis = _axis_of(a, dim, "narrow")
    n = a.array.shape[axis]
    start = start + n if start < 0 else start
    if not (0 <= start <= n and 0 <= length <= n - start):
        raise ValueError(f"narrow: start {start} and length {length} do not fit in dim {dim} of size {n}")
    return getitem(a, (slice(None),) * axis + (slice(start, start + length),))


def split(a, split_size_or_sections, dim=0):
    """Pieces along ``dim``: of ``split_size`` elements each (the last may be smaller), or of the sizes in
    a list (which must add up to the dimension), as PyTorch's ``split``. Returns a tuple of tensors."""
    axis = _axis_of(a, dim, "split")
    n = a.array.shape[axis]
    if isinstance(split_size_or_sections, (list, tuple)):
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != n or any(s < 0 for s in sizes):
            raise ValueError(f"split: sizes {sizes} must be non-negative and add up to {n} (dim {dim})")
    else:
        size = int(split_size_or_sections)
        if size <= 0 and n:
            raise ValueError(f"split: split_size must be positive, got {size}")
        sizes = [size] * (n // size) + ([n % size] if n % size else []) if n else [0]
    starts = np.cumsum([0] + sizes[:-1])
    lead = (slice(None),) * axis
    return tuple(getitem(a, lead + (slice(int(s), int(s) + k),)) for s, k in zip(starts, sizes))


def chunk(a, chunks, dim=0):
    """``chunks`` pieces along ``dim`` of ceil(n / chunks) elements each (fewer pieces when they run out),
    as PyTorch's ``chunk``."""
    if int(chunks) <= 0:
        raise ValueError(f"chunk: chunks must be positive, got {chunks}")
    n = a.array.shape[_axis_of(a, dim, "chunk")]
    return split(a, max(-(-n // int(chunks)), 1), dim)


def t(a):
    """The transpose of a tensor of at most 2 dimensions (PyTorch's ``t``)."""
    if a.array.ndim > 2:
        raise ValueError(f"t() takes a tensor of at most 2 dimensions, got shape {a.array.shape}; use "
                         "transpose(dim0, dim1)")
    return transpose(a) if a.array.ndim == 2 else a


def view_as(a, other):
    """``a`` reshaped to ``other``'s shape."""
    return reshape(a, tuple(other.shape))


def contiguous(a):
    """``a`` itself when its data is C-contiguous, else a C-contiguous copy that stays in the graph."""
    if a.array.flags.c_contiguous:
        return a
    return record(np.ascontiguousarray(a.array), (a,), lambda g: (g,), "contiguous")
