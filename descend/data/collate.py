"""Collation: a list of samples -> one batch (PyTorch's ``default_collate`` structure).

The batch has the structure of one sample, each leaf stacked along a new first axis:

=====================================  ============================================================
sample element                          batch element
=====================================  ============================================================
descend Tensor of shape ``s``           Tensor of shape ``(B, *s)``, same dtype
NumPy array / NumPy scalar              Tensor ``(B, *s)``; floating -> float32, signed int -> int64
Python ``int`` / ``float`` / ``bool``   Tensor ``(B,)``: int64 / float32 / bool
``str`` / ``bytes``                     the list of the B values
dict (any Mapping)                      the same mapping type, each value collated
namedtuple                              the same namedtuple, each field collated
tuple / list / other Sequence           a list (tuples) or the same sequence type of collated positions
=====================================  ============================================================

Departure from PyTorch: non-Tensor floating data becomes float32 (PyTorch: Python floats and float64
arrays give float64) and signed integers int64 (PyTorch keeps int32), descend's rule for any array made
into a Tensor (``descend.as_tensor``), so a batch feeds a float32 model without a silent float64 pass.
"""

from __future__ import annotations

import collections.abc

import numpy as np

from .. import backend
from ..tensor import Tensor

_ERROR = "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}"


def _stack(arrays, what):
    try:
        return np.stack(arrays)
    except ValueError:
        shapes = sorted({tuple(np.shape(a)) for a in arrays})
        raise RuntimeError(f"default_collate: cannot stack {what} of different shapes {shapes[:4]} into one "
                           "batch; pad them to one shape or pass a collate_fn") from None


def _tensor(array) -> Tensor:
    return Tensor.from_array(backend.as_array(array))


def default_collate(batch):
    """Stack a list of samples into one batch (see the module docstring for the rules per type)."""
    if not isinstance(batch, collections.abc.Sequence) or isinstance(batch, (str, bytes)):
        raise TypeError(f"default_collate needs a list of samples, got {type(batch).__name__}")
    if len(batch) == 0:
        raise ValueError("default_collate got an empty list of samples")
    elem = batch[0]
    if isinstance(elem, Tensor):
        return Tensor.from_array(_stack([t.array for t in batch], "tensors"))
    if isinstance(elem, (np.ndarray, np.bool_, np.number)):
        if elem.dtype.kind in "USOV":
            raise TypeError(_ERROR.format(elem.dtype))
        return _tensor(_stack(batch, "arrays"))
    if isinstance(elem, (bool, int, float)):
        return _tensor(np.asarray(batch))
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, collections.abc.Mapping):
        collated = {key: default_collate([d[key] for d in batch]) for key in elem}
        try:
            return type(elem)(collated)
        except TypeError:
            return collated
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return type(elem)(*(default_collate(list(field)) for field in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        if any(len(s) != len(elem) for s in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        columns = [default_collate(list(column)) for column in zip(*batch)]
        if isinstance(elem, tuple):
            return columns
        try:
            return type(elem)(columns)
        except TypeError:
            return columns
    raise TypeError(_ERROR.format(type(elem)))


def default_convert(data):
    """Turn NumPy arrays and scalars inside one sample into Tensors, keeping its structure (the
    ``collate_fn`` of a loader with ``batch_size=None``). Python numbers and strings are left as they are."""
    if isinstance(data, Tensor):
        return data
    if isinstance(data, (np.ndarray, np.bool_, np.number)):
        return data if data.dtype.kind in "USOV" else _tensor(data)
    if isinstance(data, (str, bytes)):
        return data
    if isinstance(data, collections.abc.Mapping):
        converted = {key: default_convert(v) for key, v in data.items()}
        try:
            return type(data)(converted)
        except TypeError:
            return converted
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence):
        try:
            return type(data)([default_convert(d) for d in data])
        except TypeError:
            return [default_convert(d) for d in data]
    return data
