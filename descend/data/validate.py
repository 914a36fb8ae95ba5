"""Checks run on data before training, each failing with a ValueError that names the part and the rows.

A bad value found after an hour of training (a NaN loss, an index error in the loss) is expensive; these
checks are vectorised and cheap, so loaders run them once, up front:

* empty parts and mismatched lengths (``x_train`` has 100 rows, ``y_train`` 99);
* NaN or ±inf in features or regression targets: the first offending row and how many rows;
* classification labels that are not integers, negative, or not below ``num_classes``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["DataWarning", "check_finite", "check_labels", "check_part"]

_MAX_LISTED = 10


class DataWarning(UserWarning):
    """A decision taken about the data that the user did not state (e.g. text labels read as classes); the
    message says what was decided and which setting decides it explicitly."""


def _rows_listed(rows: np.ndarray) -> str:
    shown = ", ".join(str(int(r)) for r in rows[:_MAX_LISTED])
    more = f", ... ({len(rows) - _MAX_LISTED} more)" if len(rows) > _MAX_LISTED else ""
    return f"{len(rows)} row{'s' if len(rows) != 1 else ''} affected: {shown}{more}"


def check_finite(arr: np.ndarray, name: str) -> None:
    """Raise if any row of ``arr`` holds NaN or ±inf: "x_train row 17 contains NaN (3 rows affected: ...)"."""
    arr = np.asarray(arr)
    if arr.dtype.kind not in "fc" or arr.size == 0:
        return
    flat = arr.reshape(len(arr), -1)
    if np.isfinite(flat).all():  # fast path: one pass, no temporaries kept
        return
    nan_rows = np.isnan(flat).any(axis=1)
    bad_rows = np.flatnonzero(nan_rows | np.isinf(flat).any(axis=1))
    first = bad_rows[0]
    what = "NaN" if nan_rows[first] else "inf"
    raise ValueError(f"{name} row {first} contains {what} ({_rows_listed(bad_rows)}); "
                     "drop or impute those rows before training")


def check_labels(y: np.ndarray, name: str, num_classes: int | None = None) -> None:
    """Classification labels: integer-valued, in ``0 .. num_classes-1``, one per sample (1-D)."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D class indices, got shape {y.shape}; "
                         "for one-hot labels use y.argmax(axis=1)")
    if y.dtype.kind == "b" or y.dtype.kind not in "iuf":
        raise ValueError(f"{name} must hold integer class indices, got dtype {y.dtype}")
    if y.dtype.kind == "f":
        check_finite(y, name)
        bad = np.flatnonzero(y != np.round(y))
        if len(bad):
            raise ValueError(f"{name} row {bad[0]} holds the non-integer label {y[bad[0]].item()!r} "
                             f"({_rows_listed(bad)}); classification needs class indices 0..K-1 "
                             "(pass task='regression' for real-valued targets)")
    bad = np.flatnonzero(y < 0)
    if len(bad):
        raise ValueError(f"{name} row {bad[0]} holds the negative label {y[bad[0]]} ({_rows_listed(bad)}); "
                         "class indices must be 0..K-1")
    if num_classes is not None:
        bad = np.flatnonzero(y >= num_classes)
        if len(bad):
            raise ValueError(f"{name} row {bad[0]} holds the label {y[bad[0]]}, out of range for "
                             f"{num_classes} classes ({_rows_listed(bad)}); labels must be 0..{num_classes - 1}")


def check_part(x, y, part: str, task: str, num_classes: int | None = None) -> None:
    """Validate one split (``part`` is 'train', 'val' or 'test'): lengths, emptiness, values."""
    if x is None and y is None:
        return
    if x is None or y is None:
        raise ValueError(f"x_{part} and y_{part} must be given together; got only "
                         f"{'x' if y is None else 'y'}_{part}")
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim == 0 or len(x) == 0:
        raise ValueError(f"x_{part} is empty (shape {x.shape}); check the file or the split fractions")
    if y.ndim == 0 or len(y) != len(x):
        raise ValueError(f"x_{part} has {len(x)} rows but y_{part} has "
                         f"{'no rows' if y.ndim == 0 else len(y)}; features and labels must align")
    check_finite(x, f"x_{part}")
    if task == "classification":
        check_labels(y, f"y_{part}", num_classes)
    elif task == "regression":
        check_finite(y, f"y_{part}")
    elif task == "language-model":      # next-token indices per step
        check_labels(y.reshape(-1), f"y_{part}", num_classes)
    else:
        raise ValueError(f"task must be 'classification' or 'regression', got {task!r}")
