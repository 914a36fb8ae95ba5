"""Map-style data sets: ``Dataset``, ``TensorDataset``, ``ArrayDataset``, ``Subset``, ``ConcatDataset``.

A map-style data set is any object with ``__len__`` and ``__getitem__(i)`` (PyTorch's protocol); the
:class:`~descend.data.DataLoader` takes any of them. The data sets built on arrays here
(``TensorDataset``, ``ArrayDataset`` and ``Subset``/``ConcatDataset`` of them) can also be indexed by a
whole batch of indices at once, so a loader over them never does per-sample Python work.
"""

from __future__ import annotations

import bisect
import math

import numpy as np

from .. import backend
from .. import random as drandom
from ..tensor import Tensor


def to_array(data, name: str = "array") -> np.ndarray:
    """A contiguous NumPy array from an array, a descend Tensor or nested lists.

    Floating data becomes float32 (descend trains in float32, float64 input included), signed integers
    int64, unsigned integers and booleans stay as they are.
    """
    if hasattr(data, "array") and isinstance(getattr(data, "array"), np.ndarray):  # a descend Tensor
        data = data.array
    try:
        arr = backend.as_array(data)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name}: cannot turn data of type {type(data).__name__} into a numeric array ({exc})") from None
    if arr.ndim == 0:
        raise ValueError(f"{name} is a scalar; give an array with one row per sample")
    return np.ascontiguousarray(arr)


def batch_gatherer(dataset):
    """``f(indices) -> batch`` for a data set indexable by a whole batch at once, else ``None``.

    ``indices`` is a slice or an integer array; the batch is a list of arrays (one per array of the data
    set) or one array, exactly what :func:`~descend.data.default_collate` would make of the samples but in
    one fancy index per array. A subclass that overrides ``__getitem__`` is never gathered (its own
    ``__getitem__`` runs per sample instead).
    """
    make = getattr(dataset, "_gatherer", None)
    return make() if callable(make) else None


class Dataset:
    """Base class of map-style data sets: override ``__getitem__(index)`` and ``__len__()``.

    ``a + b`` is ``ConcatDataset([a, b])``.
    """

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__(index)")

    def __add__(self, other):
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """Base class of iterable-style data sets (streams): override ``__iter__()``.

    A loader over one takes samples in the order the iterator yields them and batches them; ``shuffle``
    and samplers do not apply. ``len(loader)`` needs the data set to define ``__len__``.
    """

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__()")

    def __add__(self, other):
        raise TypeError("IterableDatasets cannot be concatenated with +; chain their iterators instead")


def _same_lengths(kind, lengths):
    if len(set(lengths)) != 1:
        listed = ", ".join(f"{'array' if kind == 'ArrayDataset' else 'tensor'} {i}: {n}"
                           for i, n in enumerate(lengths))
        raise ValueError(f"{kind} {'arrays' if kind == 'ArrayDataset' else 'tensors'} must have the same "
                         f"length (first axis); got {listed}")


class TensorDataset(Dataset):
    """Tensors indexed together along their first axis: ``TensorDataset(x, y)[i] == (x[i], y[i])``.

    Tensors keep their dtype; NumPy arrays and lists are turned into Tensors with descend's rule
    (floating data float32, signed integers int64). Every tensor needs the same length (first axis).
    """

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor, e.g. TensorDataset(x, y)")
        converted = []
        for i, t in enumerate(tensors):
            if not isinstance(t, Tensor):
                t = Tensor.from_array(to_array(t, f"tensor {i}"))
            elif t.ndim == 0:
                raise ValueError(f"tensor {i} is a scalar; give a tensor with one row per sample")
            converted.append(t)
        self.tensors = tuple(converted)
        _same_lengths("TensorDataset", [len(t.array) for t in self.tensors])

    def __len__(self) -> int:
        return len(self.tensors[0].array)

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def _gatherer(self):
        if type(self).__getitem__ is not TensorDataset.__getitem__:
            return None
        arrays = [t.array for t in self.tensors]
        return lambda index: [a[index] for a in arrays]

    def __repr__(self):
        shapes = ", ".join(f"{tuple(t.shape)} {t.dtype}" for t in self.tensors)
        return f"TensorDataset({shapes})"


class ArrayDataset(Dataset):
    """Aligned arrays indexed together: ``ArrayDataset(x, y)[i] == (x[i], y[i])`` (NumPy values).

    Every array needs the same length (first axis); the error names each array's length. Floating data
    is stored as float32 and signed integer data (labels) as int64, converted once here.
    """

    def __init__(self, *arrays):
        if not arrays:
            raise ValueError("ArrayDataset needs at least one array, e.g. ArrayDataset(x, y)")
        self.arrays = tuple(to_array(a, f"array {i}") for i, a in enumerate(arrays))
        _same_lengths("ArrayDataset", [len(a) for a in self.arrays])

    def __len__(self) -> int:
        return len(self.arrays[0])

    def __getitem__(self, index):
        """One sample (integer index) or a batch (slice or integer array) from every array."""
        return tuple(a[index] for a in self.arrays)

    def _gatherer(self):
        if type(self).__getitem__ is not ArrayDataset.__getitem__:
            return None
        arrays = self.arrays
        return lambda index: [a[index] for a in arrays]

    def __repr__(self):
        shapes = ", ".join(f"{a.shape} {a.dtype}" for a in self.arrays)
        return f"ArrayDataset({shapes})"


class RowDataset(Dataset):
    """One array or Tensor read as a data set of its rows (what a loader makes of a bare array).

    ``RowDataset(x)[i] == x[i]``; a batch is one Tensor ``x[indices]``. A Tensor keeps its dtype; a NumPy
    array or list follows descend's rule (floating data float32, signed integers int64).
    """

    def __init__(self, data):
        self.data = data.array if isinstance(data, Tensor) else to_array(data, "data")
        if self.data.ndim == 0:
            raise ValueError("the data is a scalar; give an array with one row per sample")

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index):
        return self.data[index]

    def _gatherer(self):
        if type(self).__getitem__ is not RowDataset.__getitem__:
            return None
        return self.data.__getitem__


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``: ``Subset(ds, idx)[i] == ds[idx[i]]``."""

    def __init__(self, dataset, indices):
        if not hasattr(dataset, "__getitem__"):
            raise TypeError(f"Subset needs a map-style data set (with __getitem__), got {type(dataset).__name__}")
        index_array = np.asarray(indices.array if isinstance(indices, Tensor) else indices)
        if index_array.ndim != 1 or (index_array.size and index_array.dtype.kind not in "iu"):
            raise TypeError(f"Subset indices must be a 1-D sequence of integers, got {indices!r:.60}")
        self.dataset = dataset
        self.indices = index_array.tolist() if isinstance(indices, Tensor) else indices
        self._index_array = index_array.astype(np.int64)

    def __getitem__(self, idx):
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __len__(self) -> int:
        return len(self.indices)

    def _gatherer(self):
        inner = batch_gatherer(self.dataset)
        if inner is None or type(self).__getitem__ is not Subset.__getitem__:
            return None
        index_array = self._index_array
        return lambda index: inner(index_array[index])


def _structure(batch):
    if isinstance(batch, np.ndarray):
        return batch.shape[1:]
    return tuple(a.shape[1:] for a in batch)


class ConcatDataset(Dataset):
    """Data sets one after another: sample ``i`` comes from the first data set whose cumulative size exceeds ``i``.

    ``cumulative_sizes[k]`` is ``len(datasets[0]) + ... + len(datasets[k])``.
    """

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset needs at least one data set, got an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError("ConcatDataset does not take an IterableDataset; chain their iterators instead")
        self.cumulative_sizes = np.cumsum([len(d) for d in self.datasets]).tolist()

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx):
        if idx < 0:
            if -idx > len(self):
                raise ValueError(f"index {idx} is out of range for a ConcatDataset of {len(self)} samples")
            idx = len(self) + idx
        k = bisect.bisect_right(self.cumulative_sizes, idx)
        return self.datasets[k][idx - (self.cumulative_sizes[k - 1] if k else 0)]

    def _gatherer(self):
        inner = [batch_gatherer(d) for d in self.datasets]
        if any(g is None for g in inner) or type(self).__getitem__ is not ConcatDataset.__getitem__:
            return None
        shapes = {_structure(g(np.zeros(1, np.int64))) for g, d in zip(inner, self.datasets) if len(d)}
        if len(shapes) > 1:  # the parts' samples differ in structure or shape: collate them one by one
            return None
        bounds = np.asarray([0] + self.cumulative_sizes)

        def gather(index):
            index = np.arange(len(self))[index] if isinstance(index, slice) else np.asarray(index)
            which = np.searchsorted(bounds, index, side="right") - 1
            parts = [(np.flatnonzero(which == k), g) for k, g in enumerate(inner)]
            parts = [(pos, g(index[pos] - bounds[k])) for k, (pos, g) in enumerate(parts) if len(pos)]
            first = parts[0][1]
            if isinstance(first, np.ndarray):  # one array per sample
                out = np.empty((len(index),) + first.shape[1:], np.result_type(*(b for _, b in parts)))
                for pos, b in parts:
                    out[pos] = b
                return out
            out = [np.empty((len(index),) + a.shape[1:], np.result_type(*(b[j] for _, b in parts)))
                   for j, a in enumerate(first)]
            for pos, b in parts:
                for o, a in zip(out, b):
                    o[pos] = a
            return out

        return gather


def random_split(dataset, lengths, generator=None):
    """Split ``dataset`` into non-overlapping :class:`Subset` s of the given ``lengths``, at random.

    ``lengths`` are sample counts summing to ``len(dataset)``, or fractions summing to 1: then split ``k``
    gets ``floor(f_k * N)`` samples and the remainder is dealt one by one to splits 0, 1, 2, ... (PyTorch's
    rule). The samples are a permutation of ``range(N)`` drawn from ``generator`` (a
    ``numpy.random.Generator``; ``None``: descend's default generator, so :func:`descend.manual_seed`
    makes it reproducible), cut into consecutive pieces.
    """
    if not hasattr(dataset, "__len__"):
        raise TypeError(f"random_split needs a data set with __len__, got {type(dataset).__name__}")
    lengths = list(lengths)
    if not lengths or any(isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating))
                          for v in lengths):
        raise TypeError(f"lengths must be a non-empty sequence of ints or fractions, got {lengths!r}")
    n = len(dataset)
    if all(isinstance(v, (int, np.integer)) for v in lengths):
        counts = [int(v) for v in lengths]
    elif math.isclose(sum(lengths), 1.0):
        for i, frac in enumerate(lengths):
            if not 0 <= frac <= 1:
                raise ValueError(f"fraction {frac!r} at index {i} is not between 0 and 1")
        counts = [math.floor(n * frac) for frac in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
    else:
        raise ValueError(f"fractions must sum to 1, got {lengths!r} (sum {sum(lengths)!r}); or give integer lengths")
    if any(c < 0 for c in counts) or sum(counts) != n:
        raise ValueError(f"lengths {counts} must be non-negative and sum to the data set's length {n}")
    gen = _check_generator(generator)
    order = gen.permutation(n).tolist()
    bounds = np.cumsum([0] + counts).tolist()
    return [Subset(dataset, order[lo:hi]) for lo, hi in zip(bounds[:-1], bounds[1:])]


def _check_generator(generator) -> np.random.Generator:
    if generator is None:
        return drandom.default_generator()
    if not isinstance(generator, np.random.Generator):
        raise TypeError(f"generator must be a numpy.random.Generator (e.g. numpy.random.default_rng(0)) or "
                        f"None, got {type(generator).__name__}")
    return generator
