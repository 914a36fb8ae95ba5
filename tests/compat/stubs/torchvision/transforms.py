"""ToTensor, Normalize, Compose, Lambda with torchvision's behaviour on uint8 arrays (H, W) or (H, W, C)."""

import numpy as np

from ._backend import lib


class ToTensor:
    """uint8 image (H, W[, C]) -> float32 tensor (C, H, W) in [0, 1], as torchvision's ToTensor."""

    def __call__(self, pic):
        a = np.asarray(pic)
        if a.ndim == 2:
            a = a[:, :, None]
        a = np.ascontiguousarray(a.transpose(2, 0, 1)).astype(np.float32)
        if np.asarray(pic).dtype == np.uint8:
            a = a / np.float32(255)
        return lib().from_numpy(a)


class Normalize:
    """(x - mean) / std per channel."""

    def __init__(self, mean, std, inplace=False):
        self.mean = np.asarray(mean, dtype=np.float32).reshape(-1, 1, 1)
        self.std = np.asarray(std, dtype=np.float32).reshape(-1, 1, 1)

    def __call__(self, tensor):
        return lib().from_numpy(((tensor.numpy() - self.mean) / self.std).astype(np.float32))


class Compose:
    def __init__(self, transforms):
        self.transforms = transforms

    def __call__(self, x):
        for t in self.transforms:
            x = t(x)
        return x


class Lambda:
    def __init__(self, lambd):
        self.lambd = lambd

    def __call__(self, x):
        return self.lambd(x)
