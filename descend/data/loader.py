"""DataLoader: PyTorch's loader over any map-style or iterable data set, vectorised over arrays.

The batch size picks the flavour of gradient descent: ``batch_size == len(dataset)`` is (full-)batch
gradient descent, ``batch_size == 1`` is stochastic gradient descent, anything between is mini-batch
gradient descent.

Two paths give the same batches. Over a data set built on arrays (a tuple of arrays, one array,
``TensorDataset``/``ArrayDataset`` and ``Subset``/``ConcatDataset`` of them) with the default collate,
each batch is one fancy index per array: no Python work per sample. Over any other data set the
loader calls ``dataset[i]`` for each index and ``collate_fn`` on the list of samples, as PyTorch does.
"""

from __future__ import annotations

import copy
import itertools

import numpy as np

from .. import random as drandom
from ..tensor import Tensor
from .collate import default_collate, default_convert
from .dataset import ArrayDataset, IterableDataset, RowDataset, batch_gatherer
from .sampler import BatchSampler, RandomSampler, SequentialSampler


def get_worker_info():
    """``None``: descend loads in the main process (``num_workers`` is accepted but runs in-process)."""
    return None


def _as_dataset(data):
    """The data set a loader reads: a tuple of arrays is ArrayDataset(*arrays), one array its rows."""
    if isinstance(data, (str, bytes)):
        raise TypeError(f"DataLoader needs a data set, an ArrayDataset, a tuple of arrays (x, y) or one array; "
                        f"got {type(data).__name__}")
    if isinstance(data, tuple):
        return ArrayDataset(*data)
    if isinstance(data, (np.ndarray, Tensor)):
        return RowDataset(data)
    if isinstance(data, IterableDataset) or (hasattr(data, "__getitem__") and hasattr(data, "__len__")):
        return data
    raise TypeError(f"DataLoader needs a map-style data set (with __len__ and __getitem__), an IterableDataset, "
                    f"an ArrayDataset, a tuple of arrays (x, y) or one array; got {type(data).__name__}")


def _tensors(batch):
    if isinstance(batch, np.ndarray):
        return Tensor.from_array(batch)
    return [Tensor.from_array(a) for a in batch]


def _positive_int(value, name, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        hint = " (or None: no batching)" if allow_none else ""
        raise ValueError(f"{name} must be a positive integer, got {value!r}{hint}")
    return int(value)


class DataLoader:
    """Iterate over a data set in batches: ``for x, y in DataLoader(TensorDataset(x, y), batch_size=64, shuffle=True)``.

    PyTorch's arguments and defaults. ``dataset``: any map-style data set (``__len__`` and
    ``__getitem__``), an :class:`IterableDataset`, or (descend) a tuple of arrays ``(x, y, ...)`` read as
    ``ArrayDataset(x, y, ...)`` (batches ``[xb, yb, ...]``) or one array/Tensor read as its rows (batches
    one Tensor). Batches are built by ``collate_fn`` (default :func:`default_collate`: the structure of
    a sample with every leaf stacked into a Tensor that does not require grad).

    ``len(loader)`` is the number of batches per epoch: ``ceil(N / batch_size)``, or
    ``floor(N / batch_size)`` with ``drop_last=True`` (the last, short batch is then skipped).
    ``shuffle=True`` draws one permutation of ``range(N)`` per epoch (:class:`RandomSampler`) from the
    loader's ``generator`` (a ``numpy.random.Generator``); descend's ``seed=`` makes that generator
    ``default_rng(seed)``; with neither, a seed is drawn from descend's default generator, so
    :func:`descend.manual_seed` makes it reproducible. ``sampler`` / ``batch_sampler`` replace the
    order / the batching as in PyTorch.

    ``num_workers > 0`` is accepted and runs in the main process (``worker_init_fn`` is not called,
    :func:`get_worker_info` returns ``None``); ``pin_memory``, ``timeout``, ``prefetch_factor``,
    ``persistent_workers`` and ``pin_memory_device`` are accepted and have no effect on a CPU.

    ``state_dict()`` captures the loader's generator and the position (epoch, batches already served),
    so a loader restored with ``load_state_dict`` continues with exactly the batches the original would
    have produced next, also mid-epoch (for samplers that draw from the loader's generator).
    """

    def __init__(self, dataset, batch_size: int | None = 1, shuffle: bool | None = False, sampler=None,
                 batch_sampler=None, num_workers: int = 0, collate_fn=None, pin_memory: bool = False,
                 drop_last: bool = False, timeout: float = 0, worker_init_fn=None, multiprocessing_context=None,
                 generator=None, *, prefetch_factor: int | None = None, persistent_workers: bool = False,
                 pin_memory_device: str = "", in_order: bool = True, seed: int | None = None):
        self.dataset = _as_dataset(dataset)
        self._iterable = isinstance(self.dataset, IterableDataset)
        shuffle = bool(shuffle)
        batch_size = _positive_int(batch_size, "batch_size", allow_none=True)
        self._check_workers(num_workers, timeout, worker_init_fn, multiprocessing_context, prefetch_factor,
                            persistent_workers)
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(f"collate_fn must be callable or None, got {type(collate_fn).__name__}")
        if not self._iterable and len(self.dataset) == 0:
            raise ValueError("DataLoader got an empty data set (0 samples); check the data loading and splits")
        self.generator, self.seed = self._make_generator(generator, seed)

        if self._iterable and (shuffle or sampler is not None or batch_sampler is not None):
            raise ValueError("DataLoader with an IterableDataset takes no shuffle, sampler or batch_sampler: "
                             "the data set's iterator gives the order")
        for name, value in (("sampler", sampler), ("batch_sampler", batch_sampler)):
            if value is not None and (isinstance(value, (bool, str)) or not hasattr(value, "__iter__")):
                raise TypeError(f"{name} must be an iterable of indices (e.g. a Sampler) or None, got {value!r}; "
                                "pass drop_last/seed by keyword (descend's old 4th positional was drop_last)")
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, "
                                 "and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually exclusive with drop_last")
        if sampler is None and not self._iterable:
            sampler = RandomSampler(self.dataset, generator=self.generator) if shuffle \
                else SequentialSampler(self.dataset)
        if batch_size is not None and batch_sampler is None and not self._iterable:
            batch_sampler = BatchSampler(sampler, batch_size, bool(drop_last))

        self.batch_size, self.drop_last, self.shuffle = batch_size, bool(drop_last), shuffle
        self.sampler, self.batch_sampler = sampler, batch_sampler
        self.num_workers, self.pin_memory, self.timeout = int(num_workers), bool(pin_memory), timeout
        self.worker_init_fn, self.multiprocessing_context = worker_init_fn, multiprocessing_context
        self.prefetch_factor, self.persistent_workers = prefetch_factor, bool(persistent_workers)
        self.pin_memory_device, self.in_order = pin_memory_device, in_order
        auto = batch_size is not None or batch_sampler is not None
        self.collate_fn = collate_fn if collate_fn is not None else (default_collate if auto else default_convert)
        self._gather = batch_gatherer(self.dataset) if self.collate_fn is default_collate else None

        self.epoch = 0             # epochs begun so far (the next pass is epoch number `epoch`)
        self._epoch_start_state = None  # generator state before the running epoch's permutation
        self._position = 0         # batches served in the running epoch
        self._resume_position = 0  # batches to skip at the start of the next pass (after load_state_dict)

    @staticmethod
    def _check_workers(num_workers, timeout, worker_init_fn, multiprocessing_context, prefetch_factor,
                       persistent_workers):
        if isinstance(num_workers, bool) or not isinstance(num_workers, (int, np.integer)) or num_workers < 0:
            raise ValueError(f"num_workers must be a non-negative integer, got {num_workers!r}; use "
                             "num_workers=0 (descend loads in the main process either way)")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0:
            raise ValueError(f"timeout must be a non-negative number, got {timeout!r}")
        if worker_init_fn is not None and not callable(worker_init_fn):
            raise TypeError(f"worker_init_fn must be callable or None, got {type(worker_init_fn).__name__}")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in multiprocessing; set "
                             "num_workers > 0 or prefetch_factor=None")
        if num_workers == 0 and persistent_workers:
            raise ValueError("persistent_workers option needs num_workers > 0")
        if num_workers == 0 and multiprocessing_context is not None:
            raise ValueError("multiprocessing_context can only be used with num_workers > 0")

    @staticmethod
    def _make_generator(generator, seed):
        if generator is not None and seed is not None:
            raise ValueError("give generator= or seed=, not both (seed=s means generator=numpy.random.default_rng(s))")
        if generator is not None:
            if not isinstance(generator, np.random.Generator):
                raise TypeError(f"generator must be a numpy.random.Generator (e.g. numpy.random.default_rng(0)) "
                                f"or None, got {type(generator).__name__}")
            return generator, None
        if seed is None:
            seed = int(drandom.default_generator().integers(2**63))
        elif isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer or None, got {seed!r}")
        return np.random.default_rng(int(seed)), int(seed)

    # ------------------------------------------------------------------ iteration
    def __len__(self) -> int:
        if self._iterable:
            n = len(self.dataset)  # TypeError, as in PyTorch, when the stream has no length
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        return len(self.batch_sampler if self.batch_sampler is not None else self.sampler)

    def _known_len(self):
        try:
            return len(self)
        except TypeError:
            return None

    def __iter__(self):
        start_state = copy.deepcopy(self.generator.bit_generator.state)
        skip, self._resume_position = self._resume_position, 0
        batches = self._epoch(skip)   # draws this epoch's order now, from the state just saved
        total = self._known_len()
        self._epoch_start_state = start_state if total is None or skip < total else None
        self._position = skip
        self.epoch += 1
        return self._serve(batches, skip, total)

    def _epoch(self, skip: int):
        """This epoch's batches after the first ``skip``, lazily; the order is drawn on the call."""
        if self._iterable:
            return itertools.islice(self._stream(), skip, None)
        if self.batch_sampler is None:  # batch_size=None: one sample at a time, converted
            return (self.collate_fn(self.dataset[i]) for i in itertools.islice(iter(self.sampler), skip, None))
        index_batches = (self.batch_sampler.index_batches() if isinstance(self.batch_sampler, BatchSampler)
                         and type(self.batch_sampler).__iter__ is BatchSampler.__iter__ else None)
        if index_batches is None:
            index_batches = iter(self.batch_sampler)
        return (self._fetch(index) for index in itertools.islice(index_batches, skip, None))

    def _fetch(self, index):
        if self._gather is not None:
            return _tensors(self._gather(index if isinstance(index, (slice, np.ndarray)) else np.asarray(index)))
        if isinstance(index, slice):
            index = range(index.start, index.stop)
        elif isinstance(index, np.ndarray):
            index = index.tolist()
        return self.collate_fn([self.dataset[i] for i in index])

    def _stream(self):
        samples = iter(self.dataset)
        if self.batch_size is None:
            yield from (self.collate_fn(s) for s in samples)
            return
        while True:
            chunk = list(itertools.islice(samples, self.batch_size))
            if not chunk or (self.drop_last and len(chunk) < self.batch_size):
                return
            yield self.collate_fn(chunk)

    def _serve(self, batches, skip, total):
        b = skip
        for batch in batches:
            b += 1
            if total is not None and b >= total:  # last batch handed out: the epoch is complete
                self._epoch_start_state, self._position = None, 0
            else:
                self._position = b
            yield batch
        self._epoch_start_state, self._position = None, 0

    # ---------------------------------------------------------------- checkpointing
    def state_dict(self) -> dict:
        """``{'generator': PCG64 state, 'epoch': int, 'position': int, 'seed': int | None}`` (JSON-friendly).

        Between epochs it holds the generator as it is; inside an epoch it holds the generator as it was
        before that epoch's permutation and the number of batches already served, so a restored loader
        redraws the same permutation and skips those batches.
        """
        if self._epoch_start_state is not None:
            gen, epoch, position = self._epoch_start_state, self.epoch - 1, self._position
        else:
            gen, epoch, position = self.generator.bit_generator.state, self.epoch, 0
        return {"generator": copy.deepcopy(gen), "epoch": int(epoch), "position": int(position), "seed": self.seed}

    def load_state_dict(self, state: dict) -> None:
        """Restore a :meth:`state_dict`; the next ``iter(loader)`` continues where the saved one stood."""
        missing = {"generator", "epoch"} - set(state)
        if missing:
            raise KeyError(f"DataLoader state is missing {sorted(missing)}; it has {sorted(state)}")
        position = int(state.get("position", 0))
        total = self._known_len()
        if position < 0 or (total is not None and position > total):
            raise ValueError(f"DataLoader state position {position} is outside 0..{total} batches; "
                             "was it saved with another batch size or data set?")
        self.generator.bit_generator.state = copy.deepcopy(state["generator"])
        self.epoch = int(state["epoch"])
        seed = state.get("seed", self.seed)
        self.seed = None if seed is None else int(seed)
        self._resume_position = position
        self._epoch_start_state = None
        self._position = 0

    def __repr__(self):
        n = "a stream" if self._iterable else f"{len(self.dataset)} samples"
        return (f"DataLoader({n}, batch_size={self.batch_size}, shuffle={self.shuffle}, "
                f"drop_last={self.drop_last}, seed={self.seed})")
