"""Samplers: the order in which a loader visits a map-style data set, and how it groups it into batches.

A sampler is any iterable of indices with a length (PyTorch's protocol). The samplers here also give
a whole epoch's order as one integer array (``order()``), drawn with NumPy in one call; a loader
uses that to slice batches of indices without a Python loop over samples. Iterating a sampler draws
the same order (from the same generator) as ``order()`` does.
"""

from __future__ import annotations

import numpy as np

from .. import random as drandom


def _generator(generator):
    if generator is None:
        return drandom.default_generator()   # looked up at draw time: descend.manual_seed replaces it
    if not isinstance(generator, np.random.Generator):
        raise TypeError(f"generator must be a numpy.random.Generator (e.g. numpy.random.default_rng(0)) or "
                        f"None, got {type(generator).__name__}")
    return generator


def _length(data_source, what):
    try:
        return len(data_source)
    except TypeError:
        raise TypeError(f"{what} needs a data source with __len__, got {type(data_source).__name__}") from None


class Sampler:
    """Base class: iterate over indices of a data set. Subclasses define ``__iter__`` (and ``__len__``)."""

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__()")


class ArraySampler(Sampler):
    """A sampler whose epoch order is one integer array, ``order()``; iterating yields its items."""

    def order(self) -> np.ndarray:
        raise NotImplementedError

    def __iter__(self):
        return iter(self.order().tolist())


class SequentialSampler(ArraySampler):
    """``0, 1, ..., len(data_source) - 1`` in order."""

    def __init__(self, data_source):
        self.data_source = data_source

    def order(self) -> np.ndarray:
        return np.arange(len(self.data_source))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(ArraySampler):
    """Random order: a permutation of ``range(N)`` per epoch, or with ``replacement=True`` ``num_samples``
    independent uniform draws from ``range(N)``.

    Without replacement, ``num_samples > N`` chains ``num_samples // N`` full permutations and the head
    of one more (PyTorch's rule). ``generator``: a ``numpy.random.Generator``; ``None`` draws from
    descend's default generator (:func:`descend.manual_seed`).
    """

    def __init__(self, data_source, replacement: bool = False, num_samples: int | None = None, generator=None):
        if not isinstance(replacement, bool):
            raise TypeError(f"replacement must be a bool, got {replacement!r}")
        if num_samples is not None and (isinstance(num_samples, bool) or not isinstance(num_samples, (int, np.integer))
                                        or num_samples <= 0):
            raise ValueError(f"num_samples must be a positive integer or None, got {num_samples!r}")
        _generator(generator)
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = None if num_samples is None else int(num_samples)
        self.generator = generator
        if self.num_samples <= 0:
            raise ValueError(f"RandomSampler needs a non-empty data source, got "
                             f"{_length(data_source, 'RandomSampler')} samples")

    @property
    def num_samples(self) -> int:
        return _length(self.data_source, "RandomSampler") if self._num_samples is None else self._num_samples

    def order(self) -> np.ndarray:
        n, gen, k = len(self.data_source), _generator(self.generator), self.num_samples
        if self.replacement:
            return gen.integers(0, n, size=k)
        if k == n:
            return gen.permutation(n)
        return np.concatenate([gen.permutation(n) for _ in range(k // n)] + [gen.permutation(n)[:k % n]])

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(ArraySampler):
    """The given ``indices`` in a random order (a new permutation each epoch)."""

    def __init__(self, indices, generator=None):
        _generator(generator)
        self.indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        self.generator = generator

    def order(self) -> np.ndarray:
        return self.indices[_generator(self.generator).permutation(len(self.indices))]

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(ArraySampler):
    """``num_samples`` indices drawn with probability ``weights[i] / sum(weights)`` (with or without replacement)."""

    def __init__(self, weights, num_samples: int, replacement: bool = True, generator=None):
        if isinstance(num_samples, bool) or not isinstance(num_samples, (int, np.integer)) or num_samples <= 0:
            raise ValueError(f"num_samples must be a positive integer, got {num_samples!r}")
        if not isinstance(replacement, bool):
            raise TypeError(f"replacement must be a bool, got {replacement!r}")
        w = np.asarray(getattr(weights, "array", weights), dtype=np.float64).reshape(-1)
        if len(w) == 0 or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
            raise ValueError("weights must be finite, non-negative and not all zero")
        if not replacement and num_samples > np.count_nonzero(w):
            raise ValueError(f"num_samples={num_samples} without replacement needs at least that many non-zero "
                             f"weights, got {np.count_nonzero(w)}")
        _generator(generator)
        self.weights, self.num_samples, self.replacement, self.generator = w, int(num_samples), replacement, generator

    def order(self) -> np.ndarray:
        gen = _generator(self.generator)
        return gen.choice(len(self.weights), size=self.num_samples, replace=self.replacement,
                          p=self.weights / self.weights.sum())

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    """Group ``sampler``'s indices into lists of ``batch_size``; ``drop_last`` skips a short final batch.

    ``len`` is ``floor(len(sampler) / batch_size)`` with ``drop_last``, else ``ceil``.
    """

    def __init__(self, sampler, batch_size: int, drop_last: bool):
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if not isinstance(drop_last, bool):
            raise TypeError(f"drop_last must be a bool, got {drop_last!r}")
        self.sampler, self.batch_size, self.drop_last = sampler, int(batch_size), drop_last

    def index_batches(self):
        """This epoch's batches: slices (sequential order) or integer arrays, if the sampler has an
        array order (:class:`ArraySampler`); ``None`` otherwise. Draws the order now."""
        s = self.sampler
        if not isinstance(s, ArraySampler) or type(s).__iter__ is not ArraySampler.__iter__:
            return None
        bs, n = self.batch_size, len(s)
        stops = range(bs, (n // bs) * bs + 1, bs) if self.drop_last else range(bs, n + bs, bs)
        if type(s) is SequentialSampler:
            return [slice(stop - bs, min(stop, n)) for stop in stops]
        order = s.order()
        return [order[stop - bs:stop] for stop in stops]

    def __iter__(self):
        batches = self.index_batches()
        if batches is not None:
            for b in batches:
                yield list(range(b.start, b.stop)) if isinstance(b, slice) else b.tolist()
            return
        batch = []
        for i in self.sampler:
            batch.append(i)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
