"""``torch.utils.data`` under descend: ``from descend.utils.data import DataLoader, Dataset, TensorDataset``.

The same objects as in :mod:`descend.data` (one implementation); see docs/data.md. PyTorch's submodules
``dataset``, ``sampler`` and ``dataloader`` are there too (``from descend.utils.data.sampler import BatchSampler``).
"""

from ...data.collate import default_collate, default_convert
from ...data.dataset import ConcatDataset, Dataset, IterableDataset, Subset, TensorDataset, random_split
from ...data.loader import DataLoader, get_worker_info
from ...data.sampler import (BatchSampler, RandomSampler, Sampler, SequentialSampler, SubsetRandomSampler,
                             WeightedRandomSampler)
from . import dataloader, dataset, sampler

__all__ = ["DataLoader", "Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset", "random_split",
           "Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler", "WeightedRandomSampler",
           "BatchSampler", "default_collate", "default_convert", "get_worker_info"]
