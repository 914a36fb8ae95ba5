"""Data: data sets, samplers, batch loaders, splits, standardisation, built-in data sets and augmentation.

``load_dataset('digits')`` gives a validated :class:`DataSplits`; ``DataLoader(TensorDataset(x, y),
batch_size=64, shuffle=True)`` (or descend's ``DataLoader((x, y), batch_size=64, shuffle=True, seed=0)``)
yields batches of Tensors; ``build_augmentation(['crop', 'noise'])`` a pipeline the trainer applies to
training batches only. PyTorch's ``torch.utils.data`` names are also at ``descend.utils.data``.
"""

from .augment import (AUGMENTATIONS, Augmentation, Compose, Cutout, GaussianNoise, RandomCrop,
                      RandomHorizontalFlip, RandomShift, build_augmentation)
from .collate import default_collate, default_convert
from .distributed import DistributedSampler
from .dataset import (ArrayDataset, ConcatDataset, Dataset, IterableDataset, RowDataset, Subset, TensorDataset,
                      random_split)
from .idx import read_idx, write_idx
from .image_folder import IMG_EXTENSIONS, ImageFolder, image_to_array, load_image_folder
from .loader import DataLoader, get_worker_info
from .sampler import (BatchSampler, RandomSampler, Sampler, SequentialSampler, SubsetRandomSampler,
                      WeightedRandomSampler)
from .sources import (FASHION_MNIST_DIR, folder_kind, load_csv, load_dataset, load_digits, load_fashion_mnist,
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
    "Dataset", "IterableDataset", "TensorDataset", "RowDataset", "Subset", "ConcatDataset", "random_split",
    "Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler", "WeightedRandomSampler",
    "BatchSampler", "DistributedSampler", "default_collate", "default_convert", "get_worker_info",
    "ImageFolder", "IMG_EXTENSIONS", "image_to_array", "load_image_folder", "folder_kind",
]
