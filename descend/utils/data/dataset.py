"""``torch.utils.data.dataset``: the data set classes (see :mod:`descend.data.dataset`)."""

from ...data.dataset import ConcatDataset, Dataset, IterableDataset, Subset, TensorDataset, random_split

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset", "random_split"]
