"""DataLoader: batches of Tensors sliced from contiguous arrays, shuffled by a generator of its own.

The batch size picks the flavour of gradient descent: ``batch_size == len(dataset)`` is (full-)batch
gradient descent, ``batch_size == 1`` is stochastic gradient descent, anything between is mini-batch
gradient descent.
"""

from __future__ import annotations

import copy

import numpy as np

from .. import random as drandom
from ..tensor import Tensor
from .dataset import ArrayDataset


def _as_dataset(data) -> ArrayDataset:
    if isinstance(data, ArrayDataset):
        return data
    if isinstance(data, (tuple, list)):
        return ArrayDataset(*data)
    if isinstance(data, (np.ndarray, Tensor)):
        return ArrayDataset(data)
    raise TypeError(
        f"DataLoader needs an ArrayDataset, a tuple of arrays (x, y) or one array; got {type(data).__name__}"
    )


class DataLoader:
    """Iterate over a data set in batches: ``for x, y in DataLoader((x, y), batch_size=64, shuffle=True)``.

    Each batch is a tuple of :class:`~descend.Tensor` (one per array of the data set; floating features
    float32, integer labels int64) that do not require grad. ``batch_size = len(dataset)`` gives batch
    gradient descent, ``batch_size = 1`` stochastic gradient descent, values between mini-batch gradient
    descent. ``len(loader)`` is the number of batches per epoch: ``ceil(N / batch_size)``, or
    ``floor(N / batch_size)`` with ``drop_last=True`` (the last, short batch is then skipped).

    With ``shuffle=True`` each pass (epoch) draws one permutation of ``range(N)`` from the loader's own
    ``np.random.Generator`` and gathers every batch with one fancy-index per array; without it, batches
    are contiguous slices (views, no copy). ``seed`` fixes the sequence of permutations; ``seed=None``
    draws a seed from descend's default generator, so :func:`descend.manual_seed` makes it reproducible.

    ``state_dict()`` captures the generator and the position (epoch, batches already served), so a
    loader restored with ``load_state_dict`` continues with exactly the batches the original would have
    produced next, also mid-epoch.
    """

    def __init__(self, dataset_or_arrays, batch_size: int = 32, shuffle: bool = False, drop_last: bool = False,
                 seed: int | None = None):
        self.dataset = _as_dataset(dataset_or_arrays)
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if len(self.dataset) == 0:
            raise ValueError("DataLoader got an empty data set (0 samples); check the data loading and splits")
        if seed is None:
            seed = int(drandom.default_generator().integers(2**63))
        elif isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer or None, got {seed!r}")
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.seed = int(seed)
        self.generator = np.random.default_rng(self.seed)
        self.epoch = 0             # epochs begun so far (the next pass is epoch number `epoch`)
        self._epoch_start_state = None  # generator state before the running epoch's permutation
        self._position = 0         # batches served in the running epoch
        self._resume_position = 0  # batches to skip at the start of the next pass (after load_state_dict)

    # ------------------------------------------------------------------ iteration
    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        start_state = copy.deepcopy(self.generator.bit_generator.state)
        order = self.generator.permutation(len(self.dataset)) if self.shuffle else None
        skip, self._resume_position = self._resume_position, 0
        self._epoch_start_state = start_state if skip < len(self) else None
        self._position = skip
        self.epoch += 1
        return self._batches(order, skip)

    def _batches(self, order, skip):
        arrays, bs = self.dataset.arrays, self.batch_size
        for b in range(skip, len(self)):
            lo = b * bs
            index = slice(lo, lo + bs) if order is None else order[lo:lo + bs]
            batch = tuple(Tensor._from_array(a[index]) for a in arrays)
            if b + 1 == len(self):  # last batch handed out: the epoch is complete
                self._epoch_start_state, self._position = None, 0
            else:
                self._position = b + 1
            yield batch

    # ---------------------------------------------------------------- checkpointing
    def state_dict(self) -> dict:
        """``{'generator': PCG64 state, 'epoch': int, 'position': int, 'seed': int}`` (JSON-friendly).

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
        if not 0 <= position <= len(self):
            raise ValueError(f"DataLoader state position {position} is outside 0..{len(self)} batches; "
                             "was it saved with another batch size or data set?")
        self.generator.bit_generator.state = copy.deepcopy(state["generator"])
        self.epoch = int(state["epoch"])
        self.seed = int(state.get("seed", self.seed))
        self._resume_position = position
        self._epoch_start_state = None
        self._position = 0

    def __repr__(self):
        return (f"DataLoader({len(self.dataset)} samples, batch_size={self.batch_size}, shuffle={self.shuffle}, "
                f"drop_last={self.drop_last}, seed={self.seed})")
