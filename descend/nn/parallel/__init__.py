"""Data parallelism: :class:`DistributedDataParallel` over :mod:`descend.distributed` (MPI)."""

from .distributed import DistributedDataParallel

__all__ = ["DistributedDataParallel"]
