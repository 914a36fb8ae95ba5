"""Train / validation / test splits and the bundle that carries them (:class:`DataSplits`).

Stratified splitting keeps each class's share in every part: for class ``c`` with ``n_c`` samples and a
part of fraction ``f``, the part gets ``floor(f·n_c)`` or ``ceil(f·n_c)`` samples (largest-remainder
rounding, so the part's total is ``round(f·N)``) — within one sample of the exact proportion.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass, field

import numpy as np

from .dataset import to_array
from .validate import DataWarning, check_part

TASKS = ("classification", "regression", "language-model")

_TASK_HINT = 'set data.task = "classification" or "regression" (task= in Python) to decide'


def infer_task(y) -> str:
    """'classification' for integer (or boolean) labels, 'regression' for floating targets."""
    kind = np.asarray(y).dtype.kind
    return "classification" if kind in "iub" else "regression"


def _rows(mask) -> str:
    rows = np.flatnonzero(mask)
    more = f", ... ({len(rows) - 5} more)" if len(rows) > 5 else ""
    return f"row{'s' if len(rows) > 1 else ''} {', '.join(str(int(r)) for r in rows[:5])}{more}"


def resolve_labels(y, task=None, name: str = "y_train", classes=None):
    """Read labels as the task needs them, never guessing silently; returns ``(y, task, class_names)``.

    Rules, with ``task`` None (or ``"auto"``) meaning "decide from the labels":

    * integer or boolean labels → classification; floats that are all integer-valued (``2.0``) → classes too;
    * floats with no integer-valued label → regression; a *mix* of integer-valued and non-integer labels (one
      ``1.5`` among class indices) is an error naming the rows: set ``task`` to say which you mean;
    * text labels (CSV cells, ``.npz`` string arrays) that all parse as numbers follow the numeric rules; other
      text becomes classes in sorted order (``class_names``) with a :class:`DataWarning` unless ``task`` says
      ``"classification"``; text can never be a regression target;
    * a blank label (empty text cell) is always an error naming the rows.

    ``classes``: the class names of the training labels, to map the text labels of a validation or test part
    (a label outside them is an error).
    """
    if task == "auto":
        task = None
    if task not in (None, *TASKS):
        raise ValueError(f"task must be 'classification', 'regression' or None (decide from the labels), "
                         f"got {task!r}")
    y = np.asarray(y)
    if y.ndim == 0:
        raise ValueError(f"{name} is a single value (shape ()); give one label per sample, shape (N,)")
    if y.dtype.kind in "US":
        text = np.char.strip(y.astype(str))
        blank = text == ""
        if blank.any():
            raise ValueError(f"{name} has blank labels ({_rows(blank.reshape(len(text), -1).any(axis=1))}); fill "
                             f"them in or drop those rows")
        try:
            y = text.astype(np.float64)
        except ValueError:
            if task == "regression":
                bad = next(str(v) for v in text.ravel() if not is_number(v))
                raise ValueError(f"{name} holds the text label {bad!r}, which cannot be a regression target; "
                                 f"give numbers or set data.task = \"classification\"") from None
            if classes is None:
                classes, y = np.unique(text, return_inverse=True)
                classes = [str(c) for c in classes]
                if task is None:
                    shown = ", ".join(classes[:10]) + (", ..." if len(classes) > 10 else "")
                    warnings.warn(f"{name}: text labels read as {len(classes)} classes in sorted order "
                                  f"({shown} -> 0..{len(classes) - 1}); set data.task = \"classification\" to "
                                  f"say so and silence this", DataWarning, stacklevel=3)
                return y.reshape(text.shape).astype(np.int64), "classification", classes
            index = {c: i for i, c in enumerate(classes)}
            unknown = np.array([v not in index for v in text.ravel()])
            if unknown.any():
                first = text.ravel()[np.flatnonzero(unknown)[0]]
                raise ValueError(f"{name} holds the label {str(first)!r} ({_rows(unknown)}), never seen in "
                                 f"training (classes: {', '.join(classes[:10])}); fix it or drop those rows")
            return np.array([index[v] for v in text.ravel()], np.int64).reshape(text.shape), \
                "classification", classes
    if classes is not None and y.dtype.kind in "iuf":
        task = task or "classification"
    if y.dtype.kind == "f" and task is None:
        finite = np.isfinite(y)
        whole = finite & (y == np.round(np.where(finite, y, 0)))
        if whole[finite].all():
            task = "classification"
        elif whole.any():
            frac = ~whole & finite
            raise ValueError(f"{name} mixes integer-valued labels ({int(whole.sum())} values) with non-integer "
                             f"ones ({int(frac.sum())}, {_rows(frac.reshape(len(y), -1).any(axis=1))}, e.g. "
                             f"{y[frac][0].item()!r}): {_TASK_HINT} (classification needs class indices 0..K-1)")
        else:
            task = "regression"
    task = task or infer_task(y)
    return y, task, classes


def is_number(text) -> bool:
    """Whether ``float(text)`` succeeds: a CSV cell or a label string that reads as a number."""
    try:
        float(text)
        return True
    except ValueError:
        return False


@dataclass
class DataSplits:
    """A data set ready for training: arrays per split plus what a model needs to know about them.

    ``x_*`` are float32 arrays with samples on the first axis (images ``(N, C, H, W)``); ``y_*`` are int64
    class indices ``(N,)`` for classification, float32 targets ``(N, num_outputs)`` for regression.
    ``x_val``/``x_test`` may be ``None`` when a part is absent.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    task: str = ""
    num_classes: int | None = None
    input_shape: tuple = ()
    class_names: list | None = None
    name: str = "data"
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if not self.task:
            self.task = infer_task(self.y_train)
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {self.task!r}")
        if not self.input_shape:
            self.input_shape = tuple(np.asarray(self.x_train).shape[1:])
        if self.task in ("classification", "language-model") and self.num_classes is None:
            labels = [np.asarray(y) for y in (self.y_train, self.y_val, self.y_test) if y is not None]
            top = max((int(y.max()) for y in labels if y.size and y.dtype.kind in "iu"), default=-1)
            self.num_classes = len(self.class_names) if self.class_names else top + 1

    # ------------------------------------------------------------------ queries
    def parts(self):
        """``[(name, x, y), ...]`` for the parts present, in the order train, val, test."""
        pairs = [("train", self.x_train, self.y_train), ("val", self.x_val, self.y_val),
                 ("test", self.x_test, self.y_test)]
        return [(n, x, y) for n, x, y in pairs if x is not None]

    @property
    def num_outputs(self) -> int:
        """Width of the model's output layer: classes (vocabulary size for a language model), or regression
        targets per sample."""
        if self.task in ("classification", "language-model"):
            return int(self.num_classes)
        y = np.asarray(self.y_train)
        return 1 if y.ndim == 1 else int(np.prod(y.shape[1:]))

    def loader(self, part: str = "train", batch_size: int = 32, shuffle: bool | None = None,
               drop_last: bool = False, seed: int | None = None):
        """A :class:`~descend.data.DataLoader` over one part; shuffled by default for 'train' only."""
        from .loader import DataLoader

        found = {n: (x, y) for n, x, y in self.parts()}
        if part not in found:
            raise ValueError(f"{self.name} has no {part!r} part; it has {list(found)}")
        shuffle = part == "train" if shuffle is None else shuffle
        return DataLoader(found[part], batch_size=batch_size, shuffle=shuffle, drop_last=drop_last, seed=seed)

    def validate(self) -> "DataSplits":
        """Run the pre-training checks on every part (see :mod:`descend.data.validate`); returns self."""
        check_part(self.x_train, self.y_train, "train", self.task, self.num_classes)
        check_part(self.x_val, self.y_val, "val", self.task, self.num_classes)
        check_part(self.x_test, self.y_test, "test", self.task, self.num_classes)
        shapes = {n: np.asarray(x).shape[1:] for n, x, _ in self.parts()}
        if len(set(shapes.values())) > 1:
            raise ValueError(f"{self.name}: the parts' sample shapes differ: {shapes}")
        return self

    def standardized(self, axis=0):
        """Fit a :class:`~descend.data.Standardizer` on ``x_train`` only and apply it to every part.

        Returns ``(new_splits, standardizer)``; validation and test data never leak into the statistics.
        """
        from .standardize import Standardizer

        scaler = Standardizer(axis=axis).fit(self.x_train)
        new = {f"x_{n}": scaler.transform(x) for n, x, _ in self.parts()}
        return dataclasses.replace(self, **new), scaler

    def summary(self) -> str:
        sizes = ", ".join(f"{n} {len(x)}" for n, x, _ in self.parts())
        kind = f"{self.num_classes} classes" if self.task == "classification" else (
            f"language model, {self.num_classes} symbols" if self.task == "language-model" else "regression")
        return f"{self.name}: {kind}, input {self.input_shape}, {sizes}"

    def __repr__(self):
        return f"DataSplits({self.summary()})"


def _allocate(counts: np.ndarray, total: int) -> np.ndarray:
    """Integer shares of ``total`` proportional to ``counts`` (largest remainder, each within 1 of exact)."""
    n = counts.sum()
    exact = counts * (total / n) if n else np.zeros(len(counts))
    share = np.floor(exact).astype(np.int64)
    left = total - share.sum()
    if left > 0:
        order = np.argsort(-(exact - share), kind="stable")
        share[order[:left]] += 1
    return np.minimum(share, counts)


def _check_fraction(value, name):
    if not isinstance(value, (int, float, np.floating, np.integer)) or isinstance(value, bool) or not 0 <= value < 1:
        raise ValueError(f"{name} must be a number in [0, 1), got {value!r}")
    return float(value)


def split_indices(y, val_fraction: float, test_fraction: float, seed: int = 0, stratify: bool = True):
    """Index arrays ``(train, val, test)`` (each shuffled) for a split of ``len(y)`` samples.

    With ``stratify=True`` and integer labels each class is split in the same proportions.
    """
    val_fraction = _check_fraction(val_fraction, "val_fraction")
    test_fraction = _check_fraction(test_fraction, "test_fraction")
    if val_fraction + test_fraction >= 1:
        raise ValueError(f"val_fraction + test_fraction must be below 1 to leave training data, got "
                         f"{val_fraction} + {test_fraction}")
    y = np.asarray(y)
    n = len(y)
    if n == 0:
        raise ValueError("cannot split an empty data set (0 samples)")
    rng = np.random.default_rng(seed)
    n_test, n_val = int(round(test_fraction * n)), int(round(val_fraction * n))
    perm = rng.permutation(n)
    if stratify and y.ndim == 1 and infer_task(y) == "classification":
        classes, inverse = np.unique(y, return_inverse=True)
        counts = np.bincount(inverse, minlength=len(classes))
        test_c = _allocate(counts, n_test)
        val_c = np.minimum(_allocate(counts, n_val), counts - test_c)
        order = perm[np.argsort(inverse[perm], kind="stable")]      # grouped by class, random within
        cls = inverse[order]
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        rank = np.arange(n) - starts[cls]                            # position within its class
        part = np.where(rank < test_c[cls], 2, np.where(rank < test_c[cls] + val_c[cls], 1, 0))
        shuffled = rng.permutation(n)                                # undo the class grouping
        order, part = order[shuffled], part[shuffled]
        train, val, test = (order[part == k] for k in (0, 1, 2))
    else:
        test, val, train = perm[:n_test], perm[n_test:n_test + n_val], perm[n_test + n_val:]
    if len(train) == 0:
        raise ValueError(f"the split leaves no training samples ({n} samples, val_fraction={val_fraction}, "
                         f"test_fraction={test_fraction})")
    return train, val, test


def train_val_test_split(x, y, val_fraction: float = 0.1, test_fraction: float = 0.2, seed: int = 0,
                         stratify: bool = True, task: str | None = None, name: str = "data",
                         class_names=None) -> DataSplits:
    """Split ``(x, y)`` into train / validation / test parts and bundle them as :class:`DataSplits`.

    Classification labels (integers) are split stratified by default, so every part keeps the class
    proportions (within one sample per class); regression targets are split at random. A part with
    fraction 0 is ``None``. The same ``seed`` gives the same split.
    """
    x, y = to_array(x, "x"), to_array(y, "y")
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} rows but y has {len(y)}; features and labels must align")
    task = task or infer_task(y)
    train, val, test = split_indices(y, val_fraction, test_fraction, seed,
                                     stratify=stratify and task == "classification")
    num_classes = None
    if task == "classification":
        num_classes = len(class_names) if class_names is not None else int(y.max()) + 1

    def part(idx):
        return (x[idx], y[idx]) if len(idx) else (None, None)

    (xv, yv), (xt, yt) = part(val), part(test)
    return DataSplits(x[train], y[train], xv, yv, xt, yt, task=task, num_classes=num_classes,
                      class_names=list(class_names) if class_names is not None else None, name=name)
