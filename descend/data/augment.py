"""Image augmentation for batches ``(N, C, H, W)``: vectorised over the batch, driven by a generator.

Each transform draws its random parameters for the whole batch at once (:meth:`Augmentation.sample`)
and applies them with array operations (:meth:`Augmentation.apply`); ``aug(x, generator)`` does both. The
same generator state gives the same output, and a transform keeps no state between calls.

Augmentation is for training only: the trainer applies the pipeline to training batches and never to
validation or test data (evaluation must see the data as it is).

Horizontal flips suit natural images and clothes (Fashion-MNIST) but not digits: a mirrored 2, 3, 4,
5, 7 or 9 is no longer that digit, so leave ``flip`` out for ``digits`` and MNIST.
"""

from __future__ import annotations

import numpy as np

from .. import random as drandom
from ..tensor import Tensor


def _images(x, who) -> np.ndarray:
    arr = x.array if isinstance(x, Tensor) else np.asarray(x)
    if arr.ndim != 4:
        raise ValueError(f"{who} expects a batch of images shaped (N, C, H, W), got shape {arr.shape}; "
                         "reshape flat features with x.reshape(N, C, H, W)")
    return arr


def _pair(value, name):
    pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 0 for v in pair):
        raise ValueError(f"{name} must be a positive integer or a pair of them, got {value!r}")
    return int(pair[0]), int(pair[1])


def _nonneg_int(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


def _probability(value, name="p"):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) or not 0 <= value <= 1:
        raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}")
    return float(value)


def crop_at(x: np.ndarray, top: np.ndarray, left: np.ndarray, size: tuple) -> np.ndarray:
    """``out[i] = x[i, :, top[i]:top[i]+h, left[i]:left[i]+w]`` for every i, in one gather (no loop)."""
    h, w = size
    windows = np.lib.stride_tricks.sliding_window_view(x, (h, w), axis=(2, 3))  # (N, C, H-h+1, W-w+1, h, w)
    return windows[np.arange(len(x)), :, top, left]  # advanced axes first -> (N, C, h, w)


def _pad(x: np.ndarray, pad: int, fill: float) -> np.ndarray:
    if pad == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), constant_values=fill)


class Augmentation:
    """Base: ``sample(n, shape, generator) -> params`` and ``apply(x, params) -> x'``; call = both."""

    name = "augmentation"

    def sample(self, n: int, shape: tuple, generator: np.random.Generator) -> dict:
        raise NotImplementedError

    def apply(self, x: np.ndarray, params: dict) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, x, generator: np.random.Generator | None = None):
        arr = _images(x, type(self).__name__)
        gen = generator if generator is not None else drandom.default_generator()
        out = self.apply(arr, self.sample(len(arr), arr.shape, gen))
        return Tensor.from_array(out) if isinstance(x, Tensor) else out

    def config(self) -> dict:
        """``{name: {argument: value}}``: what :func:`build_augmentation` needs to rebuild it."""
        return {self.name: dict(self._args)}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self._args.items())
        return f"{type(self).__name__}({args})"


class RandomHorizontalFlip(Augmentation):
    """Mirror each image left–right with probability ``p``: ``x'[..., j] = x[..., W−1−j]``."""

    name = "flip"

    def __init__(self, p: float = 0.5):
        self.p = _probability(p)
        self._args = {"p": self.p}

    def sample(self, n, shape, generator):
        return {"flip": generator.random(n) < self.p}

    def apply(self, x, params):
        mask = params["flip"]
        out = x.copy()
        out[mask] = x[mask][..., ::-1]
        return out


class RandomCrop(Augmentation):
    """Zero-pad by ``padding`` on every side, then cut a ``size`` window at a uniform random offset.

    ``size=None`` keeps the input size (the usual "pad 4, crop 32" of CIFAR training, Krizhevsky 2012;
    He et al. 2016). Offsets ``top ∈ [0, H + 2·padding − h]``, ``left ∈ [0, W + 2·padding − w]``.
    """

    name = "crop"

    def __init__(self, size=None, padding: int = 2, fill: float = 0.0):
        self.size = None if size is None else _pair(size, "size")
        self.padding = _nonneg_int(padding, "padding")
        self.fill = float(fill)
        self._args = {"size": size, "padding": self.padding, "fill": self.fill}

    def _size(self, shape):
        h, w = self.size or shape[2:]
        hp, wp = shape[2] + 2 * self.padding, shape[3] + 2 * self.padding
        if h > hp or w > wp:
            raise ValueError(f"RandomCrop size {(h, w)} is larger than the padded image {(hp, wp)}; "
                             "lower size or raise padding")
        return h, w, hp, wp

    def sample(self, n, shape, generator):
        h, w, hp, wp = self._size(shape)
        return {"top": generator.integers(0, hp - h + 1, n), "left": generator.integers(0, wp - w + 1, n)}

    def apply(self, x, params):
        h, w, _, _ = self._size(x.shape)
        return crop_at(_pad(x, self.padding, self.fill), params["top"], params["left"], (h, w))


class RandomShift(Augmentation):
    """Translate each image by ``(dy, dx)``, each uniform in ``[−max_shift, max_shift]``, filling with zeros.

    ``x'[i, c, r, s] = x[i, c, r − dy, s − dx]`` (zero where that falls outside); the size is unchanged.
    """

    name = "shift"

    def __init__(self, max_shift: int = 1, fill: float = 0.0):
        self.max_shift = _nonneg_int(max_shift, "max_shift")
        self.fill = float(fill)
        self._args = {"max_shift": self.max_shift, "fill": self.fill}

    def sample(self, n, shape, generator):
        m = self.max_shift
        return {"dy": generator.integers(-m, m + 1, n), "dx": generator.integers(-m, m + 1, n)}

    def apply(self, x, params):
        m = self.max_shift
        padded = _pad(x, m, self.fill)
        return crop_at(padded, m - params["dy"], m - params["dx"], x.shape[2:])


class GaussianNoise(Augmentation):
    """Add independent Gaussian noise: ``x' = x + std·ε``, ``ε ~ N(0, 1)`` per element."""

    name = "noise"

    def __init__(self, std: float = 0.05):
        if isinstance(std, bool) or not isinstance(std, (int, float, np.floating)) or not std >= 0:
            raise ValueError(f"std must be a non-negative number, got {std!r}")
        self.std = float(std)
        self._args = {"std": self.std}

    def sample(self, n, shape, generator):
        return {"noise": generator.standard_normal(shape, dtype=np.float32)}

    def apply(self, x, params):
        return (x + np.float32(self.std) * params["noise"]).astype(x.dtype, copy=False)


class Cutout(Augmentation):
    """Zero a ``size × size`` square centred at a uniform random pixel (clipped at the border).

    DeVries & Taylor 2017, "Improved regularization of convolutional neural networks with cutout".
    Rows ``[cy − size//2, cy − size//2 + size)`` and the same for columns, with ``cy, cx`` uniform over the
    image, so boxes near the border are partly outside the image, as in the paper.
    """

    name = "cutout"

    def __init__(self, size: int = 4, fill: float = 0.0):
        self.size = _pair(size, "size")
        self.fill = float(fill)
        self._args = {"size": size, "fill": self.fill}

    def sample(self, n, shape, generator):
        return {"cy": generator.integers(0, shape[2], n), "cx": generator.integers(0, shape[3], n)}

    def box(self, params):
        """Per-sample ``(top, bottom, left, right)`` (exclusive ends, unclipped)."""
        top = params["cy"] - self.size[0] // 2
        left = params["cx"] - self.size[1] // 2
        return top, top + self.size[0], left, left + self.size[1]

    def apply(self, x, params):
        top, bottom, left, right = self.box(params)
        rows, cols = np.arange(x.shape[2]), np.arange(x.shape[3])
        in_rows = (rows >= top[:, None]) & (rows < bottom[:, None])      # (N, H)
        in_cols = (cols >= left[:, None]) & (cols < right[:, None])      # (N, W)
        mask = in_rows[:, None, :, None] & in_cols[:, None, None, :]     # (N, 1, H, W)
        return np.where(mask, np.asarray(self.fill, dtype=x.dtype), x)


class Compose:
    """Apply transforms in order, all drawing from the same generator: ``Compose([RandomCrop(), Cutout()])``."""

    def __init__(self, transforms):
        self.transforms = list(transforms)
        for t in self.transforms:
            if not callable(t):
                raise TypeError(f"Compose needs callables taking (x, generator); got {t!r}")

    def __call__(self, x, generator: np.random.Generator | None = None):
        gen = generator if generator is not None else drandom.default_generator()
        for t in self.transforms:
            x = t(x, gen)
        return x

    def __len__(self):
        return len(self.transforms)

    def config(self) -> list:
        return [t.config() for t in self.transforms if hasattr(t, "config")]

    def __repr__(self):
        return f"Compose({self.transforms!r})"


AUGMENTATIONS = {"flip": RandomHorizontalFlip, "crop": RandomCrop, "shift": RandomShift, "noise": GaussianNoise,
                 "cutout": Cutout}
_ALIASES = {"hflip": "flip", "horizontal_flip": "flip", "random_horizontal_flip": "flip", "random_crop": "crop",
            "random_shift": "shift", "translate": "shift", "gaussian_noise": "noise"}
_PRIMARY = {"flip": "p", "crop": "padding", "shift": "max_shift", "noise": "std", "cutout": "size"}


def _make(name, args):
    key = _ALIASES.get(str(name).lower(), str(name).lower())
    if key not in AUGMENTATIONS:
        raise ValueError(f"unknown augmentation {name!r}; choose from {sorted(AUGMENTATIONS)}")
    if args is None or args is True:
        args = {}
    elif isinstance(args, (int, float)) and not isinstance(args, bool):
        args = {_PRIMARY[key]: args}
    elif not isinstance(args, dict):
        raise ValueError(f"augmentation {name!r}: give its arguments as a table/dict, a number "
                         f"(its {_PRIMARY[key]}) or true, got {args!r}")
    try:
        return AUGMENTATIONS[key](**args)
    except TypeError as exc:
        raise ValueError(f"augmentation {name!r}: bad arguments {args!r} ({exc})") from None


def build_augmentation(spec) -> Compose | None:
    """A pipeline from a config value; ``None`` when the spec is empty.

    Accepted forms (names: flip, crop, shift, noise, cutout)::

        ["crop", "noise"]                                   # defaults
        [{"name": "crop", "padding": 2}, "cutout"]
        {"crop": {"padding": 2}, "noise": 0.1, "flip": false}  # a number sets the main argument
        "crop,shift"

    Dict order is the application order; ``false`` leaves a transform out.
    """
    if spec is None or spec is False or (hasattr(spec, "__len__") and len(spec) == 0):
        return None
    if isinstance(spec, str):
        spec = [s.strip() for s in spec.split(",") if s.strip()]
    items = []
    if isinstance(spec, dict):
        items = [(k, v) for k, v in spec.items() if v is not False]
    elif isinstance(spec, (list, tuple)):
        for entry in spec:
            if isinstance(entry, str):
                items.append((entry, None))
            elif isinstance(entry, dict) and "name" in entry:
                items.append((entry["name"], {k: v for k, v in entry.items() if k != "name"}))
            elif isinstance(entry, dict) and len(entry) == 1:
                items.extend(entry.items())
            elif isinstance(entry, Augmentation):
                items.append((entry, None))
            else:
                raise ValueError(f"cannot read augmentation entry {entry!r}; use a name or "
                                 "{'name': ..., arguments...}")
    else:
        raise TypeError(f"augmentation spec must be a list, dict or string, got {type(spec).__name__}")
    transforms = [n if isinstance(n, Augmentation) else _make(n, a) for n, a in items]
    return Compose(transforms) if transforms else None
