"""PyTorch's dtype names (``descend.float32``, ``descend.long``, ...) and the default floating dtype.

A dtype *is* a NumPy dtype: ``descend.float32 is np.dtype('float32')``, so ``x.dtype == descend.float32``,
``x.dtype == np.float32`` and ``x.dtype == 'float32'`` all hold, and ``repr(descend.float32)`` is
``dtype('float32')``. Every function that takes ``dtype=`` accepts these, NumPy dtypes and types, and names.
"""

from __future__ import annotations

import builtins

import numpy as np

from . import backend

float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
float16 = np.dtype(np.float16)
int64 = np.dtype(np.int64)
int32 = np.dtype(np.int32)
int16 = np.dtype(np.int16)
int8 = np.dtype(np.int8)
uint8 = np.dtype(np.uint8)
bool_ = np.dtype(np.bool_)

#: PyTorch's aliases: ``float`` is float32, ``double`` float64, ``half`` float16, ``long`` int64, ``int`` int32.
ALIASES = {
    "float32": float32, "float": float32, "float64": float64, "double": float64, "float16": float16,
    "half": float16, "int64": int64, "long": int64, "int32": int32, "int": int32, "int16": int16,
    "short": int16, "int8": int8, "uint8": uint8, "bool": bool_,
}

#: ``x.type()``'s legacy tensor-type names (as PyTorch spells them, so code comparing them keeps working).
TYPE_NAMES = {
    float32: "torch.FloatTensor", float64: "torch.DoubleTensor", float16: "torch.HalfTensor",
    int64: "torch.LongTensor", int32: "torch.IntTensor", int16: "torch.ShortTensor", int8: "torch.CharTensor",
    uint8: "torch.ByteTensor", bool_: "torch.BoolTensor",
}
_FROM_TYPE_NAME = {**{v: k for k, v in TYPE_NAMES.items()},
                   **{v.split(".", 1)[1]: k for k, v in TYPE_NAMES.items()}}


def to_dtype(dtype) -> np.dtype:
    """A dtype from a descend/NumPy dtype, a type (``np.float32``, ``float``) or a name (``'float64'``,
    ``'long'``, ``'torch.FloatTensor'``)."""
    if isinstance(dtype, str):
        if dtype in _FROM_TYPE_NAME:
            return _FROM_TYPE_NAME[dtype]
        if dtype in ALIASES:
            return ALIASES[dtype]
        raise TypeError(f"unknown dtype {dtype!r}; use one of {sorted(ALIASES)}")
    if dtype is builtins.float:
        return backend.DEFAULT_FLOAT
    if dtype is builtins.int:
        return int64
    try:
        return np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{dtype!r} is not a dtype; use e.g. descend.float32 or 'float64'") from None


def type_name(dtype) -> str:
    """``'torch.FloatTensor'``-style name of ``dtype`` (what ``x.type()`` returns)."""
    dtype = np.dtype(dtype)
    if dtype not in TYPE_NAMES:
        raise TypeError(f"dtype {dtype} has no tensor-type name; use one of {sorted(map(str, TYPE_NAMES))}")
    return TYPE_NAMES[dtype]


def get_default_dtype() -> np.dtype:
    """The floating dtype given to floating data and to factories (``randn``, ``zeros``) without ``dtype=``."""
    return backend.DEFAULT_FLOAT


def set_default_dtype(dtype) -> None:
    """Make ``dtype`` (float32 or float64) the default floating dtype, as PyTorch's ``set_default_dtype``.

    It applies to tensors made afterwards from Python or NumPy floating data and by the factories; layers
    already built keep their dtype (``model.double()`` converts one).
    """
    dtype = to_dtype(dtype)
    if dtype not in (float32, float64):
        raise TypeError(f"set_default_dtype takes float32 or float64, got {dtype}")
    backend.DEFAULT_FLOAT = dtype


def is_floating_point(t) -> bool:
    """Whether ``t``'s dtype is a floating one."""
    return np.dtype(t.dtype).kind == "f"
