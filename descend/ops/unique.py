"""``unique``: the distinct elements (or distinct slices along ``dim``) of a tensor, as PyTorch's
``torch.unique``. Not differentiable (its outputs are values picked from the input and integer indices)."""

from __future__ import annotations

import numpy as np

from ..tensor import Tensor


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """The distinct values of ``input`` in ascending order (flattened when ``dim`` is None, else the distinct
    slices along ``dim``); with ``return_inverse`` also each element's (each slice's) position in that list, of
    the input's shape (length ``size(dim)``), with ``return_counts`` how often each occurs (both int64).

    ``sorted=False`` returns sorted values too, as PyTorch does on the CPU (the order is then unspecified).
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"unique: input must be a tensor, got {type(input).__name__}")
    x = input.array
    if dim is None:
        values, inverse, counts = np.unique(x.reshape(-1), return_inverse=True, return_counts=True)
        inverse = inverse.reshape(x.shape)
    else:
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or not -x.ndim <= dim < max(x.ndim, 1):
            raise ValueError(f"unique: dim {dim!r} is out of range for a tensor with {x.ndim} dimensions")
        values, inverse, counts = np.unique(x, return_inverse=True, return_counts=True, axis=int(dim))
        inverse = inverse.reshape(-1)
    out = Tensor.from_array(np.ascontiguousarray(values))
    extra = []
    if return_inverse:
        extra.append(Tensor.from_array(inverse.astype(np.int64)))
    if return_counts:
        extra.append(Tensor.from_array(counts.astype(np.int64)))
    return (out, *extra) if extra else out
