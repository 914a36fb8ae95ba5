"""The array backend seam.

Every array descend creates goes through this module, so another array library with NumPy's
interface (CuPy, say) can be slotted in here without touching the operations. Today it is NumPy.
"""

from __future__ import annotations

import numpy as np

#: The array module every operation uses.
xp = np

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
        return xp.array(data, dtype=dtype, copy=True) if copy else xp.asarray(data, dtype=dtype)
    arr = xp.array(data, copy=True) if copy else xp.asarray(data)
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
    return xp.zeros(shape, dtype=resolve_dtype(dtype) or DEFAULT_FLOAT)


def ones(shape, dtype=None):
    return xp.ones(shape, dtype=resolve_dtype(dtype) or DEFAULT_FLOAT)


def empty(shape, dtype=None):
    return xp.empty(shape, dtype=resolve_dtype(dtype) or DEFAULT_FLOAT)


def full(shape, value, dtype=None):
    return xp.full(shape, value, dtype=resolve_dtype(dtype) or DEFAULT_FLOAT)
