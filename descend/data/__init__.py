"""Data: aligned arrays, batch loaders, splits, standardisation, built-in data sets and augmentation.

``load_dataset('digits')`` gives a validated :class:`DataSplits`; ``DataLoader((x, y), batch_size=64,
shuffle=True, seed=0)`` yields batches of Tensors; ``build_augmentation(['crop', 'noise'])`` a pipeline the
trainer applies to training batches only.
"""

from .augment import (AUGMENTATIONS, Augmentation, Compose, Cutout, GaussianNoise, RandomCrop,
                      RandomHorizontalFlip, RandomShift, build_augmentation)
from .dataset import ArrayDataset
from .idx import read_idx, write_idx
from .loader import DataLoader
from .sources import (FASHION_MNIST_DIR, load_csv, load_dataset, load_digits, load_fashion_mnist,
                      load_idx_folder, load_npz, make_regression)
from .splits import DataSplits, infer_task, split_indices, train_val_test_split
from .standardize import Standardizer
from .validate import check_finite, check_labels, check_part

__all__ = [
    "ArrayDataset", "DataLoader", "DataSplits", "Standardizer", "train_val_test_split", "split_indices",
    "infer_task", "load_dataset", "load_digits", "load_fashion_mnist", "load_idx_folder", "load_npz",
    "load_csv", "make_regression", "read_idx", "write_idx", "FASHION_MNIST_DIR", "check_finite",
    "check_labels", "check_part", "Augmentation", "Compose", "RandomCrop", "RandomHorizontalFlip",
    "RandomShift", "GaussianNoise", "Cutout", "build_augmentation", "AUGMENTATIONS",
]
