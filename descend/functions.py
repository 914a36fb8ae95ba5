"""Module-level forms of tensor methods, as PyTorch has them (``descend.max(x, 1)``, ``descend.mm(a, b)``,
``descend.allclose(a, b)``), grad-mode helpers (``inference_mode``) and the thread count.

Most are the operations of :mod:`descend.ops` under their PyTorch names; the ones defined here check
what PyTorch checks (``mm`` takes 2-D tensors, ``bmm`` 3-D ones) or return plain Python values.
"""

from __future__ import annotations

import numpy as np

from .autograd import set_grad_enabled
from .ops import (abs, add, amax, amin, argsort, cat, chunk, clip, cos, div, exp, flatten, log, log_softmax,
                  logsumexp, max, maximum, mean, min, minimum, narrow, neg, permute, pow, relu,
                  reshape, sigmoid, sin, softmax, sort, split, sqrt, squeeze, stack, std, sub, sum, t, tanh, topk,
                  transpose, tril, triu, unsqueeze, var, where)
from .ops import (ceil, cumsum, flip, floor, gather, isfinite, isinf, isnan, masked_fill, nonzero,  # noqa: F401
                  round, sign)
from .ops import matmul as _matmul
from .ops import mul as _mul
from .tensor import Tensor

clamp = clip
concat = concatenate = cat


def _tensor(x, name):
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} takes a tensor, got {type(x).__name__}; wrap data with descend.tensor(...)")
    return x


def matmul(input, other, *, out=None):
    """Matrix product (see :func:`descend.ops.linalg.matmul`); ``out=`` receives a copy of the result
    (outside the graph)."""
    return _write_out("matmul", _matmul(input, other), out)


def mul(input, other, *, out=None):
    """Element-wise product input·other, broadcast (see :func:`descend.ops.arithmetic.mul`); ``out=``
    receives a copy of the result (outside the graph), as for :func:`matmul`."""
    return _write_out("mul", _mul(input, other), out)


def _write_out(name, result, out):
    if out is None:
        return result
    if not isinstance(out, Tensor) or out.shape != result.shape:
        raise ValueError(f"{name}: out must be a tensor of the result's shape {result.shape}, got "
                         f"{getattr(out, 'shape', type(out).__name__)}")
    out.array[...] = result.array
    return out


def square(input):
    """input²."""
    return _tensor(input, "square") * input


def argmax(input, dim=None, keepdim=False):
    """Index of the (first) maximum, over everything or along ``dim`` (int64)."""
    return _tensor(input, "argmax").argmax(dim, keepdim)


def argmin(input, dim=None, keepdim=False):
    """Index of the (first) minimum, over everything or along ``dim`` (int64)."""
    return _tensor(input, "argmin").argmin(dim, keepdim)


def mm(input, mat2):
    """Matrix product of two 2-D tensors (``matmul`` without broadcasting)."""
    if _tensor(input, "mm").ndim != 2 or _tensor(mat2, "mm").ndim != 2:
        raise ValueError(f"mm takes two 2-D tensors, got shapes {input.shape} and {mat2.shape}; use matmul")
    return matmul(input, mat2)


def bmm(input, mat2):
    """Batched matrix product of (b, n, m) and (b, m, p) tensors."""
    a, b = _tensor(input, "bmm"), _tensor(mat2, "bmm")
    if a.ndim != 3 or b.ndim != 3 or a.shape[0] != b.shape[0]:
        raise ValueError(f"bmm takes two 3-D tensors with one batch size, got shapes {a.shape} and {b.shape}")
    return matmul(a, b)


def eq(input, other):
    return _tensor(input, "eq").eq(other)


def ne(input, other):
    return _tensor(input, "ne").ne(other)


def lt(input, other):
    return _tensor(input, "lt").lt(other)


def le(input, other):
    return _tensor(input, "le").le(other)


def gt(input, other):
    return _tensor(input, "gt").gt(other)


def ge(input, other):
    return _tensor(input, "ge").ge(other)


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
    """|input − other| ≤ atol + rtol·|other| for every element."""
    return _tensor(input, "allclose").allclose(other, rtol, atol, equal_nan)


def equal(input, other) -> bool:
    """True when both have one shape and the same elements."""
    return _tensor(input, "equal").equal(other)


def numel(input) -> int:
    return _tensor(input, "numel").numel()


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


def is_floating_point(input) -> bool:
    return _tensor(input, "is_floating_point").is_floating_point()


class inference_mode(set_grad_enabled):
    """Context manager or decorator (``@descend.inference_mode()``) that records no graph inside it;
    descend has no separate inference tensors, so it is ``no_grad`` (``mode=False`` leaves recording on)."""

    def __init__(self, mode: bool = True):
        super().__init__(not mode)


_thread_limits = []  # the threadpoolctl limiter of the last set_num_threads (its setting lasts while it lives)


def set_num_threads(num: int) -> None:
    """Limit the BLAS and OpenMP thread pools NumPy computes with to ``num`` threads (via threadpoolctl)."""
    if isinstance(num, bool) or not isinstance(num, (int, np.integer)) or num < 1:
        raise ValueError(f"set_num_threads takes a positive integer, got {num!r}")
    from threadpoolctl import threadpool_limits
    _thread_limits[:] = [threadpool_limits(limits=int(num))]


def get_num_threads() -> int:
    """The largest thread count of the BLAS/OpenMP pools NumPy uses (1 when none is loaded)."""
    from threadpoolctl import threadpool_info
    counts = [pool["num_threads"] for pool in threadpool_info() if pool.get("user_api") in ("blas", "openmp")]
    return int(np.max(counts)) if counts else 1


__all__ = [
    "abs", "add", "allclose", "amax", "amin", "argmax", "argmin", "argsort", "bmm", "cat", "chunk", "clamp", "clip",
    "concat", "concatenate", "cos", "div", "eq", "equal", "exp", "flatten", "ge", "get_num_threads", "gt",
    "inference_mode", "is_floating_point", "is_tensor", "le", "log", "log_softmax", "logsumexp", "lt", "matmul",
    "max", "maximum", "mean", "min", "minimum", "mm", "mul", "narrow", "ne", "neg", "numel", "permute", "pow",
    "relu", "reshape", "set_num_threads", "sigmoid", "sin", "softmax", "sort", "split", "sqrt", "squeeze",
    "stack", "std", "sub", "sum", "t", "tanh", "topk", "transpose", "tril", "triu", "unsqueeze", "var", "where",
    "ceil", "cumsum", "flip", "floor", "gather", "isfinite", "isinf", "isnan", "masked_fill", "nonzero", "round",
    "sign", "square",
]
