"""Built-in data sets, all offline: ``load_dataset(name_or_path)`` picks the reader.

=====================  ==================================================================================
``digits``             scikit-learn's bundled 8×8 handwritten digits: 1797 images ``(N, 1, 8, 8)`` in [0, 1],
                       10 classes (the embedded default: always available)
``fashion-mnist``      Zalando's Fashion-MNIST from IDX files (Debian: ``apt-get install dataset-fashion-mnist``,
                       files in /usr/share/datasets/fashion-mnist): 60000 + 10000 images ``(N, 1, 28, 28)``
``synthetic-regression`` (alias ``regression``): synthetic regression with a known function plus noise
                       (seeded)
a folder               any MNIST-format IDX folder (``train-images-idx3-ubyte[.gz]`` and friends), or a folder
                       of images whose subfolders are the classes (``photos/cat/*.jpg``; see
                       :mod:`descend.data.image_folder`: decoded once, cached, ``image_size=``, ``train/ val/
                       test/`` parts kept)
``*.npz``              your arrays: ``x_train``, ``y_train`` (+ optional ``x_val``, ``y_val``, ``x_test``, ``y_test``)
``*.csv``              numeric feature columns plus a label column (``label_column=``), header row; fields
                       quoted as the CSV standard says (RFC 4180, Python's ``csv`` module)
=====================  ==================================================================================

Every loader returns a validated :class:`~descend.data.DataSplits`. Parts the source lacks (a validation
set, a test set) are carved from the training data, stratified for classification, with ``val_fraction``
and ``test_fraction`` and ``seed``.
"""

from __future__ import annotations

import csv
import glob
import inspect
import os

import numpy as np

from ..registry import Registry
from .idx import read_idx
from .splits import DataSplits, resolve_labels, split_indices
from .validate import check_part

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_MNIST_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                         "Bag", "Ankle boot"]


# ----------------------------------------------------------------------------- helpers
def _carve(name, x, y, x_val, y_val, x_test, y_test, val_fraction, test_fraction, seed, task,
           class_names=None, num_classes=None, **extra) -> DataSplits:
    """Bundle the parts, splitting the missing validation / test parts off the training data."""
    if task == "classification" and not class_names:
        _check_seen(y, (("val", y_val), ("test", y_test)))
    need_val = x_val is None and val_fraction > 0
    need_test = x_test is None and test_fraction > 0
    if need_val or need_test:
        check_part(x, y, "train", task)  # before the split, so reported rows are the source's own row numbers
        train, val, test = split_indices(y, val_fraction if need_val else 0.0,
                                         test_fraction if need_test else 0.0, seed,
                                         stratify=task == "classification")
        if need_val:
            x_val, y_val = x[val], y[val]
        if need_test:
            x_test, y_test = x[test], y[test]
        x, y = x[train], y[train]
    if task == "classification" and num_classes is None:
        num_classes = len(class_names) if class_names else int(max(
            int(np.max(v)) for v in (y, y_val, y_test) if v is not None and len(v))) + 1
    splits = DataSplits(x, y, x_val, y_val, x_test, y_test, task=task, num_classes=num_classes,
                        class_names=list(class_names) if class_names is not None else None, name=name,
                        extra=extra)
    return splits.validate()


def _check_seen(y_train, parts) -> None:
    """A validation or test label never seen in training would silently widen the model: refuse it."""
    y_train = np.asarray(y_train)
    if y_train.dtype.kind not in "iu" or y_train.ndim != 1:
        return                                  # other label problems are reported by validate()
    seen = np.unique(y_train)
    for part, y in parts:
        if y is None or np.asarray(y).dtype.kind not in "iu" or np.ndim(y) != 1:
            continue
        new = ~np.isin(y, seen)
        if new.any():
            rows = np.flatnonzero(new)
            shown = ", ".join(str(int(v)) for v in np.unique(np.asarray(y)[new])[:10])
            raise ValueError(f"y_{part} holds labels never seen in training ({shown}; first at row {rows[0]}, "
                             f"{len(rows)} rows); the training labels are {_label_range(seen)}. Fix or drop "
                             f"those rows, or put samples of those classes in the training data")


def _label_range(seen) -> str:
    if len(seen) and seen[-1] - seen[0] + 1 == len(seen):
        return f"{int(seen[0])}..{int(seen[-1])}"
    return ", ".join(str(int(v)) for v in seen[:10]) + (", ..." if len(seen) > 10 else "")


def _features(x, name: str = "x") -> np.ndarray:
    x = np.asarray(x)
    if x.dtype.kind not in "iufb":
        raise TypeError(f"{name} must be numeric, got dtype {x.dtype}; encode the features as numbers")
    if x.ndim < 2:
        raise ValueError(f"{name} has shape {x.shape}: give one row per sample, shape (N, features...); for "
                         f"a single feature use x.reshape(-1, 1)")
    return np.ascontiguousarray(x, dtype=np.float32)


def _targets(y, task) -> np.ndarray:
    y = np.asarray(y)
    if task == "classification":
        if y.dtype.kind == "f" and np.isfinite(y).all() and (y == np.round(y)).all():
            return y.astype(np.int64)
        return y.astype(np.int64) if y.dtype.kind in "iub" else y  # bad labels are reported by validate()
    y = y.astype(np.float32)
    return y.reshape(-1, 1) if y.ndim == 1 else y


# ----------------------------------------------------------------------------- digits
def load_digits(val_fraction: float = 0.1, test_fraction: float = 0.2, seed: int = 0) -> DataSplits:
    """scikit-learn's 8×8 digits (1797 images, 10 classes), scaled from 0..16 to [0, 1], shape (N, 1, 8, 8)."""
    from sklearn.datasets import load_digits as sk_digits

    raw = sk_digits()
    x = (raw.images.astype(np.float32) / np.float32(16.0)).reshape(-1, 1, 8, 8)
    y = raw.target.astype(np.int64)
    return _carve("digits", x, y, None, None, None, None, val_fraction, test_fraction, seed, "classification",
                  class_names=[str(d) for d in range(10)])


# ----------------------------------------------------------------------------- IDX folders
def _find_idx(folder, prefix, kind):
    """The file for e.g. prefix 'train', kind 'images' in an MNIST-style folder (names vary slightly)."""
    rank = 3 if kind == "images" else 1
    patterns = [f"{prefix}-{kind}-idx{rank}-ubyte", f"{prefix}-{kind}.idx{rank}-ubyte",
                f"{prefix}-{kind}-idx{rank}-ubyte.gz", f"{prefix}-{kind}.idx{rank}-ubyte.gz"]
    for p in patterns:
        path = os.path.join(folder, p)
        if os.path.isfile(path):
            return path
    hits = sorted(glob.glob(os.path.join(folder, f"{prefix}*{kind}*idx{rank}*")))
    return hits[0] if hits else None


def _images_to_float(images) -> np.ndarray:
    if images.ndim == 3:
        images = images[:, None]  # (N, H, W) -> (N, 1, H, W)
    if images.dtype == np.uint8:
        return images.astype(np.float32) * np.float32(1 / 255)
    return images.astype(np.float32)


def load_idx_folder(path, val_fraction: float = 0.1, test_fraction: float = 0.2, seed: int = 0,
                    name: str | None = None, class_names=None) -> DataSplits:
    """An MNIST-format folder: ``train-images-idx3-ubyte[.gz]``, ``train-labels-idx1-ubyte[.gz]`` and,
    if present, ``t10k-images-idx3-ubyte[.gz]`` / ``t10k-labels-idx1-ubyte[.gz]`` (``test-`` also accepted).

    uint8 images are scaled to [0, 1] float32 and given a channel axis: ``(N, 1, H, W)``. The validation
    part is split off the training files; ``test_fraction`` applies only when there are no test files.
    """
    path = os.fspath(path)
    if not os.path.isdir(path):
        raise FileNotFoundError(f"IDX folder not found: {path}")
    tr_x, tr_y = _find_idx(path, "train", "images"), _find_idx(path, "train", "labels")
    if tr_x is None or tr_y is None:
        present = sorted(os.listdir(path))
        raise FileNotFoundError(f"{path} has no train-images-idx3-ubyte[.gz] / train-labels-idx1-ubyte[.gz]; "
                                f"files found: {present}")
    te_x = _find_idx(path, "t10k", "images") or _find_idx(path, "test", "images")
    te_y = _find_idx(path, "t10k", "labels") or _find_idx(path, "test", "labels")
    x = _images_to_float(read_idx(tr_x))
    y = read_idx(tr_y).astype(np.int64)
    x_test = y_test = None
    if te_x is not None and te_y is not None:
        x_test, y_test = _images_to_float(read_idx(te_x)), read_idx(te_y).astype(np.int64)
    for label, xs, ys in (("train", x, y), ("test", x_test, y_test)):
        if xs is not None and len(xs) != len(ys):
            raise ValueError(f"{path}: {label} images hold {len(xs)} samples but {label} labels {len(ys)}")
    return _carve(name or os.path.basename(os.path.normpath(path)), x, y, None, None, x_test, y_test,
                  val_fraction, test_fraction, seed, "classification", class_names=class_names)


def load_fashion_mnist(path: str = FASHION_MNIST_DIR, val_fraction: float = 0.1, seed: int = 0) -> DataSplits:
    """Fashion-MNIST (Xiao, Rasul & Vollgraf 2017): 60000 training and 10000 test images, 28×28, 10 classes.

    Reads the IDX files of Debian's ``dataset-fashion-mnist`` package by default; the validation part is
    split (stratified) off the 60000 training images.
    """
    if not os.path.isdir(path) or _find_idx(path, "train", "images") is None:
        raise FileNotFoundError(
            f"Fashion-MNIST not found in {path}. Install it with `apt-get install dataset-fashion-mnist` "
            "(files go to /usr/share/datasets/fashion-mnist), or pass the folder holding "
            "train-images-idx3-ubyte.gz etc. as path=")
    return load_idx_folder(path, val_fraction=val_fraction, test_fraction=0.0, seed=seed, name="fashion-mnist",
                           class_names=FASHION_MNIST_CLASSES)


# ----------------------------------------------------------------------------- user files
def load_npz(path, val_fraction: float = 0.1, test_fraction: float = 0.2, seed: int = 0,
             task: str | None = None) -> DataSplits:
    """Arrays from a ``.npz``: ``x_train``, ``y_train`` required; ``x_val``/``y_val``, ``x_test``/``y_test``
    and ``class_names`` optional (missing parts are split off the training data)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"npz file not found: {path}")
    found = read_npz(path)
    missing = [k for k in ("x_train", "y_train") if k not in found]
    if missing:
        raise ValueError(f"{path} lacks {missing}; it holds arrays {sorted(found)}. Save with "
                         "np.savez(path, x_train=..., y_train=..., [x_val=, y_val=, x_test=, y_test=])")
    for part in ("val", "test"):
        if (f"x_{part}" in found) != (f"y_{part}" in found):
            raise ValueError(f"{path} has only one of x_{part} / y_{part}; give both or neither "
                             f"(arrays found: {sorted(found)})")
    names = found.get("class_names")
    names = [str(c) for c in np.atleast_1d(names)] if names is not None else None
    y, task, text_classes = resolve_labels(found["y_train"], task, f"{path}: y_train")
    labels = {"train": _targets(y, task)}
    for part in ("val", "test"):
        if f"y_{part}" in found:
            yp, _, _ = resolve_labels(found[f"y_{part}"], task, f"{path}: y_{part}", classes=text_classes)
            labels[part] = _targets(yp, task)
    get = lambda k: _features(found[k], k) if k in found else None  # noqa: E731
    return _carve(os.path.splitext(os.path.basename(path))[0],
                  _features(found["x_train"], "x_train"), labels["train"], get("x_val"), labels.get("val"),
                  get("x_test"), labels.get("test"), val_fraction, test_fraction, seed, task,
                  class_names=names if names is not None else text_classes)


def read_npz(path) -> dict:
    """The arrays of a ``.npz``, with one-line errors for an empty, truncated or pickled file."""
    import zipfile
    import zlib
    try:
        with np.load(path, allow_pickle=False) as z:
            if not hasattr(z, "files"):
                raise ValueError(f"{path} holds a single array, not a .npz archive; save with "
                                 f"np.savez(path, x_train=..., y_train=...)")
            return {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, EOFError, OSError, zlib.error, RuntimeError, NotImplementedError) as exc:
        # RuntimeError: a member flagged encrypted; NotImplementedError: an unknown compression method
        if isinstance(exc, OSError) and exc.errno is not None:
            raise
        what = "empty: 0 bytes" if os.path.getsize(path) == 0 else "truncated or corrupt"
        raise ValueError(f"{path} is not a readable .npz ({what}); write it again with np.savez") from None
    except ValueError as exc:
        if "Object arrays" in str(exc):
            raise ValueError(f"{path} holds object arrays (pickled data), which descend never loads; save "
                             f"plain numeric or string arrays") from None
        if "pickle" in str(exc):
            raise ValueError(f"{path} is not a .npz archive (no zip header: truncated, or another format); "
                             f"write it again with np.savez") from None
        raise ValueError(f"{path} is not a readable .npz ({' '.join(str(exc).split())}); write it again "
                         f"with np.savez") from None


def load_csv(path, label_column: str = "label", val_fraction: float = 0.1, test_fraction: float = 0.2,
             seed: int = 0, task: str | None = None, delimiter: str = ",") -> DataSplits:
    """A CSV with a header row: numeric feature columns and the label column named ``label_column``.

    Integer labels mean classification, real-valued ones regression (override with ``task=``); text labels
    ('setosa', ...) become class indices in sorted order, kept as ``class_names``.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"CSV file not found: {path}")
    header, table = read_csv_table(path, delimiter, f"(one of them {label_column!r})")
    if label_column not in header:
        raise ValueError(f"{path}: no column named {label_column!r}; the header has {header}. "
                         "Set data.label_column (label_column=) to the name of the label column")
    li = header.index(label_column)
    if len(header) < 2:
        raise ValueError(f"{path}: the only column is the label {label_column!r}; add feature columns")
    feats = np.char.strip(np.delete(table, li, axis=1))
    try:
        x = feats.astype(np.float32)
    except ValueError:
        cols = [h for i, h in enumerate(header) if i != li]
        bad_r, bad_c = next((r, c) for c in range(feats.shape[1]) for r in range(feats.shape[0])
                            if not _is_number(feats[r, c]))   # error path only
        raise ValueError(f"{path}: feature column {cols[bad_c]!r} is not numeric (data row {bad_r}: "
                         f"{str(feats[bad_r, bad_c])!r}); encode it as numbers first") from None
    y, task, class_names = resolve_labels(table[:, li], task, f"{path}: label column {label_column!r}")
    return _carve(os.path.splitext(os.path.basename(path))[0], x, _targets(y, task), None, None, None, None,
                  val_fraction, test_fraction, seed, task, class_names=class_names)


def read_csv_table(path, delimiter: str = ",", naming: str = "") -> tuple[list[str], np.ndarray]:
    """``(header, rows)`` of a CSV: the stripped header names and a 2-D str array of the data rows.

    One-line ValueErrors for a file that is not UTF-8, empty, has no data rows, or has a row whose field
    count differs from the header's (naming the first such row). A byte-order mark is skipped.
    """
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = [r for r in csv.reader(fh, delimiter=delimiter) if any(c.strip() for c in r)]
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not UTF-8 text; save the CSV as UTF-8") from None
    except csv.Error as exc:
        raise ValueError(f"{path}: not a readable CSV ({exc})") from None
    if not rows:
        raise ValueError(f"{path} is empty; give a header row naming the columns"
                         f"{' ' + naming if naming else ''} and one row per sample")
    header = [h.strip() for h in rows[0]]
    if len(rows) == 1:
        raise ValueError(f"{path}: no data rows below the header")
    widths = np.array([len(r) for r in rows[1:]])
    ragged = np.flatnonzero(widths != len(header))
    if len(ragged):
        r = ragged[0]
        raise ValueError(f"{path}: data row {r} (line {r + 2}) has {widths[r]} fields but the header names "
                         f"{len(header)} columns ({len(ragged)} rows differ); every row needs one value per "
                         f"column")
    return header, np.array(rows[1:], dtype=str)


def _is_number(text) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


# ----------------------------------------------------------------------------- synthetic
def make_regression(n_samples: int = 2000, n_features: int = 8, noise: float = 0.1, seed: int = 0,
                    val_fraction: float = 0.1, test_fraction: float = 0.2) -> DataSplits:
    """Synthetic regression with a known target function:

        x ~ N(0, I),   y = x·w + 0.5·sin(3·x₀) + noise·ε,   w ~ N(0, I)/√d,   ε ~ N(0, 1)

    so a linear model leaves the sine part unexplained and a small MLP can reach MSE ≈ noise².
    ``extra['weights']`` holds ``w``. Targets have shape ``(N, 1)``.
    """
    if not isinstance(n_samples, (int, np.integer)) or n_samples < 2:
        raise ValueError(f"n_samples must be an integer >= 2, got {n_samples!r}")
    if not isinstance(n_features, (int, np.integer)) or n_features < 1:
        raise ValueError(f"n_features must be a positive integer, got {n_features!r}")
    if not noise >= 0:
        raise ValueError(f"noise must be >= 0, got {noise!r}")
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(n_features) / np.sqrt(n_features)
    x = rng.standard_normal((n_samples, n_features))
    y = x @ w + 0.5 * np.sin(3 * x[:, 0]) + noise * rng.standard_normal(n_samples)
    return _carve("regression", x.astype(np.float32), y.astype(np.float32).reshape(-1, 1), None, None, None,
                  None, val_fraction, test_fraction, seed, "regression", weights=w.astype(np.float32),
                  noise=float(noise))


# ----------------------------------------------------------------------------- dispatch
#: The built-in data sets: name → reader(**kwargs) returning DataSplits. ``load_dataset`` and the config's
#: ``data.name`` read this table; registering a reader here adds a data set everywhere.
DATA_SOURCES = Registry("data set")
DATA_SOURCES.register("digits", load_digits)
DATA_SOURCES.register("fashion-mnist", load_fashion_mnist, aliases=("fashion_mnist", "fashionmnist"))
DATA_SOURCES.register("synthetic-regression", make_regression, aliases=("regression", "synthetic_regression"))


def _call(reader, *args, **kwargs):
    """Call a reader, turning an unknown keyword into an error that lists the accepted ones."""
    accepted = list(inspect.signature(reader).parameters)[len(args):]
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise TypeError(f"{reader.__name__} does not take {unknown}; it accepts {accepted}")
    return reader(*args, **kwargs)


def folder_kind(path) -> str:
    """``'idx'`` for a folder of MNIST-format IDX files, ``'images'`` for one of class (or train/val/test)
    subfolders of images."""
    path = os.fspath(path)
    if _find_idx(path, "train", "images") is not None:
        return "idx"
    has_subfolders = any(e.is_dir() and not e.name.startswith(".") for e in os.scandir(path))
    return "images" if has_subfolders else "idx"


def load_dataset(name_or_path="digits", **kwargs) -> DataSplits:
    """Load a built-in data set by name or a file / folder by path; returns validated :class:`DataSplits`.

    Names: those of :data:`DATA_SOURCES` (``digits`` (default), ``fashion-mnist``, ``synthetic-regression``
    alias ``regression``). Paths: a folder of MNIST-format IDX files, a folder of class subfolders of images
    (``image_size``, ``skip_bad_files``, ``cache_dir`` go to :func:`~descend.data.load_image_folder`), a
    ``.npz`` or a ``.csv`` file. Keyword arguments go to the reader (``val_fraction``,
    ``test_fraction``, ``seed``, ``label_column`` for CSV, ``path`` for fashion-mnist, ...).
    """
    key = str(name_or_path).strip()
    name = key if key in DATA_SOURCES else key.lower()
    if name in DATA_SOURCES:
        return _call(DATA_SOURCES.get(name), **kwargs)
    path = os.path.expanduser(key)
    if os.path.isdir(path):
        if folder_kind(path) == "images":
            from .image_folder import load_image_folder

            return _call(load_image_folder, path, **kwargs)
        return _call(load_idx_folder, path, **kwargs)
    ext = os.path.splitext(path)[1].lower()
    if ext in (".npz", ".csv"):
        if not os.path.isfile(path):
            raise FileNotFoundError(f"data file not found: {path}")
        return _call(load_npz if ext == ".npz" else load_csv, path, **kwargs)
    raise ValueError(f"unknown data set {name_or_path!r}: use one of {sorted(DATA_SOURCES)}, a folder of IDX files, "
                     "or a path to a .npz or .csv file")
