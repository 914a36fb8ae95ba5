"""``DistributedSampler``: each process of a data-parallel job visits its own disjoint shard of a data set.

With n items and R replicas (PyTorch's rule): without ``drop_last`` each rank gets s = ⌈n/R⌉ indices
and the epoch order is padded to R·s by repeating its first indices; with ``drop_last`` (and R not
dividing n) s = ⌈(n − R)/R⌉ and the order is cut to R·s. Rank r takes positions r, r + R, r + 2R, … of
that order, so the shards are disjoint (up to the padding) and together cover every index. With
``shuffle`` the order is a permutation drawn from ``numpy.random.default_rng(seed + epoch)``: the same on
every process, and different each epoch once ``set_epoch(epoch)`` is called before each. (PyTorch draws
its permutation with its own generator, so the indices differ from torch's; the structure is the same.)
"""

from __future__ import annotations

import math

import numpy as np

from .. import distributed as dist
from .sampler import ArraySampler

__all__ = ["DistributedSampler"]


class DistributedSampler(ArraySampler):
    """Indices of ``dataset`` for replica ``rank`` of ``num_replicas`` (defaults: the default group's)."""

    def __init__(self, dataset, num_replicas: int | None = None, rank: int | None = None, shuffle: bool = True,
                 seed: int = 0, drop_last: bool = False):
        if num_replicas is None or rank is None:
            if not dist.is_initialized():
                raise RuntimeError("DistributedSampler: num_replicas/rank default to the process group's; call "
                                   "descend.distributed.init_process_group('mpi') first or pass both")
            num_replicas = dist.get_world_size() if num_replicas is None else num_replicas
            rank = dist.get_rank() if rank is None else rank
        if not isinstance(num_replicas, (int, np.integer)) or num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be a positive integer, got {num_replicas!r}")
        if not isinstance(rank, (int, np.integer)) or not 0 <= rank < num_replicas:
            raise ValueError(f"Invalid rank {rank!r}, rank should be in the interval [0, {num_replicas - 1}]")
        if not isinstance(seed, (int, np.integer)):
            raise TypeError(f"DistributedSampler: seed must be an int, got {type(seed).__name__}")
        n = len(dataset)
        self.dataset = dataset
        self.num_replicas = int(num_replicas)
        self.rank = int(rank)
        self.epoch = 0
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.drop_last = bool(drop_last)
        if self.drop_last and n % self.num_replicas != 0:
            self.num_samples = math.ceil((n - self.num_replicas) / self.num_replicas)
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def order(self) -> np.ndarray:
        n = len(self.dataset)
        if self.shuffle:
            indices = np.random.default_rng(self.seed + self.epoch).permutation(n)
        else:
            indices = np.arange(n)
        if self.drop_last:
            indices = indices[:self.total_size]
        elif self.total_size > n:
            indices = np.resize(indices, self.total_size)  # repeats the order from its start
        return indices[self.rank:self.total_size:self.num_replicas]

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Use ``seed + epoch`` for the next epoch's permutation (call it before every epoch)."""
        if not isinstance(epoch, (int, np.integer)):
            raise TypeError(f"set_epoch: epoch must be an int, got {type(epoch).__name__}")
        self.epoch = int(epoch)
