"""Dtypes and array creation for tensors: where descend decides what a new tensor's array is.

Every ``Tensor`` made from user data goes through :func:`as_array` (floating data becomes float32 unless a
dtype is asked for, integers become int64), dtype names such as ``'float64'`` or ``'long'`` are resolved
by :func:`resolve_dtype`, and layers allocate their parameters with :func:`empty` / :func:`zeros` /
:func:`ones` / :func:`full` (default dtype :data:`DEFAULT_FLOAT`).

Arrays are NumPy arrays, and only NumPy: the operations (``descend.ops``) call NumPy directly, hundreds
of times, and rely on its memory layouts, in-place ``out=`` arguments and BLAS. No other array library
can be slotted in here; an array-module seam would have to reach every operation, and is left for when
there is an accelerator to test it on.
"""

from __future__ import annotations

import numpy as np

#: Floating-point dtype given to floating data when no dtype is asked for.
DEFAULT_FLOAT = np.dtype(np.float32)

_DTYPE_NAMES = {
    "float32": np.float32, "float": np.float32, "float64": np.float64, "double": np.float64,
    "float16": np.float16, "half": np.float16,
    "int64": np.int64, "long": np.int64, "int32": np.int32, "int": np.int32, "int16": np.int16,
    "short": np.int16, "int8": np.int8,
    "uint8": np.uint8, "bool": np.bool_,
}


def resolve_dtype(dtype) -> np.dtype | None:
    """Turn a dtype given as a NumPy dtype, a type or a name ('float64') into a NumPy dtype."""
    if dtype is None:
        return None
    if isinstance(dtype, str):
        if dtype not in _DTYPE_NAMES:
            raise TypeError(f"unknown dtype {dtype!r}; use one of {sorted(_DTYPE_NAMES)}")
        return np.dtype(_DTYPE_NAMES[dtype])
    return np.dtype(dtype)


def as_array(data, dtype=None, copy: bool = False) -> np.ndarray:
    """Make an array from ``data``: floating data becomes float32 unless ``dtype`` says otherwise.

    Integers stay int64 (labels, indices) and booleans stay boolean.
    """
    dtype = resolve_dtype(dtype)
    if dtype is not None:
        return np.array(data, dtype=dtype, copy=True) if copy else np.asarray(data, dtype=dtype)
    arr = np.array(data, copy=True) if copy else np.asarray(data)
    kind = arr.dtype.kind
    if kind == "f":
        if arr.dtype != DEFAULT_FLOAT:
            arr = arr.astype(DEFAULT_FLOAT)
    elif kind in "iu":
        if arr.dtype != np.int64 and kind == "i":
            arr = arr.astype(np.int64)
    elif kind == "b":
        pass
    else:
        raise TypeError(f"cannot make a tensor from data of dtype {arr.dtype}; give numbers or booleans")
    return arr


def zeros(shape, dtype=None):
    """``np.zeros(shape)`` of ``dtype`` (default :data:`DEFAULT_FLOAT`)."""
    return np.zeros(shape, dtype=resolve_dtype(dtype) or DEFAULT_FLOAT)


def ones(shape, dtype=None):
    """``np.ones(shape)`` of ``dtype`` (default :data:`DEFAULT_FLOAT`)."""
    return np.ones(shape, dtype=resolve_dtype(dtype) or DEFAULT_FLOAT)


def empty(shape, dtype=None):
    """``np.empty(shape)`` of ``dtype`` (default :data:`DEFAULT_FLOAT`): uninitialised."""
    return np.empty(shape, dtype=resolve_dtype(dtype) or DEFAULT_FLOAT)


def full(shape, value, dtype=None):
    """``np.full(shape, value)`` of ``dtype`` (default :data:`DEFAULT_FLOAT`)."""
    return np.full(shape, value, dtype=resolve_dtype(dtype) or DEFAULT_FLOAT)
