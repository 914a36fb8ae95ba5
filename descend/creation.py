"""Making tensors, with PyTorch's names and arguments: from data (``tensor``, ``as_tensor``, ``from_numpy``),
filled (``zeros``, ``ones``, ``full``, ``empty``, ``eye`` and the ``*_like`` forms), ranges (``arange``,
``linspace``) and random draws (``rand``, ``randn``, ``randint``, ``randperm``).

Sizes go as varargs or one tuple (``randn(2, 3)`` or ``randn((2, 3))``); every factory takes ``dtype=``,
``device=`` (the CPU only) and ``requires_grad=``. Floating results get the default dtype
(:func:`~descend.dtypes.get_default_dtype`, float32) unless ``dtype`` says otherwise. Random draws come
from descend's generator (:func:`descend.manual_seed`), or ``generator=`` (a NumPy ``Generator``).
"""

from __future__ import annotations

import builtins

import numpy as np

from . import backend
from .device import check_device
from .dtypes import to_dtype
from .random import default_generator
from .tensor import Tensor, sizes


def _finish(array, device, requires_grad) -> Tensor:
    if device is not None:
        check_device(device)
    t = Tensor.from_array(array)
    return t.requires_grad_(True) if requires_grad else t


def _float_dtype(dtype):
    return backend.DEFAULT_FLOAT if dtype is None else to_dtype(dtype)


def tensor(data, *, dtype=None, device=None, requires_grad=False, pin_memory=False) -> Tensor:
    """A tensor holding a copy of ``data`` (a number, nested lists, an array or a tensor).

    Floating data gets the default dtype (float32), also NumPy float64 data (PyTorch would keep float64:
    pass ``dtype=descend.float64``); integers become int64 and booleans stay boolean.
    """
    if isinstance(data, Tensor):
        data = data.array
    elif isinstance(data, (list, tuple)) and data and isinstance(data[0], Tensor):
        data = [np.asarray(d) for d in data]
    return _finish(backend.as_array(data, None if dtype is None else to_dtype(dtype), copy=True), device,
                   requires_grad)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Like :func:`tensor`, but ``data`` itself when it is a tensor of ``dtype``, and an array's memory is
    shared when no conversion is needed."""
    if device is not None:
        check_device(device)
    if isinstance(data, Tensor) and (dtype is None or to_dtype(dtype) == data.dtype):
        return data
    return _finish(backend.as_array(data.array if isinstance(data, Tensor) else data,
                                    None if dtype is None else to_dtype(dtype)), device, False)


def from_numpy(array) -> Tensor:
    """A tensor sharing ``array``'s memory and keeping its dtype (float64 stays float64)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy takes a NumPy array, got {type(array).__name__}; use descend.tensor(data)")
    if array.dtype.kind not in "fiub":
        raise TypeError(f"from_numpy: arrays of dtype {array.dtype} are not supported; give numbers or booleans")
    return Tensor.from_array(array)


def zeros(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _finish(np.zeros(sizes(size), _float_dtype(dtype)), device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _finish(np.ones(sizes(size), _float_dtype(dtype)), device, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Uninitialised memory of ``size`` (NumPy's ``empty``)."""
    return _finish(np.empty(sizes(size), _float_dtype(dtype)), device, requires_grad)


def _fill_dtype(fill_value, dtype):
    """PyTorch's ``full`` dtype: bool for a bool fill, int64 for an int one, else the default float."""
    if dtype is not None:
        return to_dtype(dtype)
    if isinstance(fill_value, (builtins.bool, np.bool_)):
        return np.dtype(np.bool_)
    if isinstance(fill_value, (builtins.int, np.integer)):
        return np.dtype(np.int64)
    return backend.DEFAULT_FLOAT


def full(size, fill_value, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """``size`` filled with ``fill_value``; its dtype follows the value (bool, int64, or the default float)."""
    return _finish(np.full(sizes((size,)), fill_value, _fill_dtype(fill_value, dtype)), device, requires_grad)


def _like_dtype(input, dtype):
    return np.asarray(input).dtype if dtype is None else to_dtype(dtype)


def zeros_like(input, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Zeros of ``input``'s shape and dtype (unless ``dtype``)."""
    return _finish(np.zeros(np.shape(input), _like_dtype(input, dtype)), device, requires_grad)


def ones_like(input, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _finish(np.ones(np.shape(input), _like_dtype(input, dtype)), device, requires_grad)


def empty_like(input, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _finish(np.empty(np.shape(input), _like_dtype(input, dtype)), device, requires_grad)


def full_like(input, fill_value, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _finish(np.full(np.shape(input), fill_value, _like_dtype(input, dtype)), device, requires_grad)


def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """``start, start + step, ...`` below ``end`` (``arange(end)`` starts at 0). All-integer arguments give
    int64, otherwise the default float (values start + i·step computed in float64, then cast)."""
    if end is None:
        start, end = 0, start
    args = [a.item() if isinstance(a, Tensor) else a for a in (start, end, step)]
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    integral = all(isinstance(a, (builtins.int, np.integer)) for a in args)
    if dtype is None:
        dtype = np.dtype(np.int64) if integral else backend.DEFAULT_FLOAT
    values = np.arange(*args, dtype=np.int64 if integral else np.float64)
    return _finish(values.astype(to_dtype(dtype), copy=False), device, requires_grad)


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive."""
    if isinstance(steps, builtins.bool) or not isinstance(steps, (builtins.int, np.integer)) or steps < 0:
        raise ValueError(f"linspace: steps must be a non-negative integer, got {steps!r}")
    return _finish(np.linspace(start, end, int(steps)).astype(_float_dtype(dtype)), device, requires_grad)


def eye(n, m=None, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """The n×m identity (m = n by default)."""
    return _finish(np.eye(n, n if m is None else m, dtype=_float_dtype(dtype)), device, requires_grad)


def _generator(generator):
    return default_generator() if generator is None else generator


def _draw(floats, dtype):
    """Cast a float64 draw unless it was made in the wanted dtype already."""
    return floats if floats.dtype == dtype else floats.astype(dtype)


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Uniform on [0, 1)."""
    dtype = _float_dtype(dtype)
    gen = _generator(generator)
    draw = gen.random(sizes(size), dtype=dtype) if dtype in (np.float32, np.float64) else gen.random(sizes(size))
    return _finish(_draw(draw, dtype), device, requires_grad)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Standard normal N(0, 1)."""
    dtype = _float_dtype(dtype)
    gen = _generator(generator)
    shape = sizes(size)
    draw = gen.standard_normal(shape, dtype=dtype) if dtype in (np.float32, np.float64) else gen.standard_normal(shape)
    return _finish(_draw(draw, dtype), device, requires_grad)


def rand_like(input, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    return rand(np.shape(input), dtype=_like_dtype(input, dtype), device=device, requires_grad=requires_grad)


def randn_like(input, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    return randn(np.shape(input), dtype=_like_dtype(input, dtype), device=device, requires_grad=requires_grad)


def randint(low, high=None, size=None, *, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Integers uniform on [low, high): ``randint(high, size)`` or ``randint(low, high, size)``; int64."""
    if size is None:
        if high is None or not isinstance(high, (tuple, list)):
            raise TypeError("randint needs a size tuple: randint(high, size) or randint(low, high, size)")
        low, high, size = 0, low, high
    if high is None:
        raise TypeError("randint needs high: randint(high, size) or randint(low, high, size)")
    if not low < high:
        raise ValueError(f"randint: low ({low}) must be below high ({high})")
    dtype = np.dtype(np.int64) if dtype is None else to_dtype(dtype)
    draw = _generator(generator).integers(low, high, sizes((size,)), dtype=np.int64)
    return _finish(draw.astype(dtype, copy=False), device, requires_grad)


def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A random permutation of 0 .. n − 1 (int64)."""
    if isinstance(n, builtins.bool) or not isinstance(n, (builtins.int, np.integer)) or n < 0:
        raise ValueError(f"randperm: n must be a non-negative integer, got {n!r}")
    dtype = np.dtype(np.int64) if dtype is None else to_dtype(dtype)
    return _finish(_generator(generator).permutation(int(n)).astype(dtype), device, requires_grad)
