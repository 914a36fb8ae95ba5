"""MNIST and FashionMNIST stand-ins, offline and small (short settings come from the data, not from editing
the program): Debian's Fashion-MNIST (/usr/share/datasets/fashion-mnist, idx files, gzipped or not) when it
is installed, else generated 28x28 uint8 images of ten learnable classes (a fixed template per class, a
random brightness and shift, noise). ``download`` is accepted and ignored. Samples are (uint8 array (28, 28),
int label) before ``transform`` / ``target_transform``, as torchvision's (a PIL image there)."""

import gzip
import os

import numpy as np

DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"
TRAIN_SIZE, TEST_SIZE = 512, 256


def _read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def _debian(train):
    prefix = "train" if train else "t10k"
    found = {}
    for kind in ("images-idx3-ubyte", "labels-idx1-ubyte"):
        for name in (f"{prefix}-{kind}.gz", f"{prefix}-{kind}"):
            if os.path.exists(os.path.join(DEBIAN_DIR, name)):
                found[kind] = _read_idx(os.path.join(DEBIAN_DIR, name))
                break
    if len(found) < 2:
        return None
    n = TRAIN_SIZE if train else TEST_SIZE
    return found["images-idx3-ubyte"][:n].copy(), found["labels-idx1-ubyte"][:n].astype(np.int64)


def _generated(train):
    templates = np.random.default_rng(1234).random((10, 7, 7)) ** 3
    templates = np.kron(templates, np.ones((4, 4)))  # (10, 28, 28) blocky class patterns
    rng = np.random.default_rng(0 if train else 1)
    n = TRAIN_SIZE if train else TEST_SIZE
    labels = rng.integers(0, 10, n)
    bright = rng.uniform(0.6, 1.0, (n, 1, 1))
    images = templates[labels] * bright * 255 + rng.normal(0, 40, (n, 28, 28))
    shift = rng.integers(-1, 2, n)
    images = np.stack([np.roll(im, s, axis=1) for im, s in zip(images, shift)])
    return np.clip(images, 0, 255).astype(np.uint8), labels.astype(np.int64)


class MNIST:
    classes = [str(i) for i in range(10)]

    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        self.root, self.train = root, train
        self.transform, self.target_transform = transform, target_transform
        data = _debian(train) if os.path.isdir(DEBIAN_DIR) else None
        self.data, self.targets = data if data is not None else _generated(train)

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, index):
        img, target = self.data[index], int(self.targets[index])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target


class FashionMNIST(MNIST):
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot"]
