"""Vector and matrix norms: ``vector_norm`` (PyTorch's ``torch.linalg.vector_norm``), ``matrix_norm`` for the
element-wise orders, and ``norm`` (``torch.norm``, ``Tensor.norm``).

vector_norm: ‖x‖_p = (Σ |x_i|^p)^(1/p) over ``dim`` (all elements when None); p = inf is max |x_i|, -inf is
min |x_i|, 0 the count of non-zeros. Its gradient is sign(x)·|x|^(p−1) / ‖x‖^(p−1) (x/‖x‖ for p = 2,
sign(x) for p = 1), 0 where the norm is 0 (PyTorch's choice at the kink); for ±inf the gradient sign(x) goes
to the extreme elements, shared equally at ties; for p = 0 it is 0.
matrix_norm over two dims: 'fro' = the 2-norm of the entries, 1 / -1 = the max / min column sum of |x|,
inf / -inf = the max / min row sum of |x|, 2 / -2 = the largest / smallest singular value and 'nuc' their sum
(from one SVD; gradients u₁v₁ᵀ, u_min v_minᵀ and U Vᵀ, which assume distinct singular values (and full
rank for 'nuc'), as PyTorch's do).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..tensor import Tensor, record
from ._util import normalize_axes
from .arithmetic import abs as _abs
from .reduction import amax, amin, sum as _sum


def _check_input(name, x):
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: input must be a tensor, got {type(x).__name__}")
    if x.array.dtype.kind not in "fc":
        raise TypeError(f"{name}: input must be floating point, got {x.array.dtype}; convert it with .float()")


def _check_ord(name, ord):
    if isinstance(ord, bool) or not isinstance(ord, numbers.Real):
        raise ValueError(f"{name}: ord must be a number (2, 1, inf, -inf, 0, any p), got {ord!r}")
    return float(ord)


def _dims(dim):
    if isinstance(dim, list):
        dim = tuple(dim)
    return dim


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):
    """‖x‖_ord over ``dim`` (an int, a tuple, or None for every element), as ``torch.linalg.vector_norm``."""
    _check_input("vector_norm", x)
    p = _check_ord("vector_norm", ord)
    a = x.array if dtype is None else x.array.astype(dtype)
    axes = normalize_axes(_dims(dim), a.ndim)
    keep = bool(keepdim)
    absx = np.abs(a)
    if p == math.inf:
        full = absx.max(axis=axes, keepdims=True) if a.size else np.zeros([1] * a.ndim, a.dtype)
    elif p == -math.inf:
        full = absx.min(axis=axes, keepdims=True)
    elif p == 0:
        full = (absx != 0).sum(axis=axes, keepdims=True).astype(a.dtype)
    elif p == 1:
        full = absx.sum(axis=axes, keepdims=True)
    elif p == 2:
        full = np.sqrt(np.square(absx).sum(axis=axes, keepdims=True))
    else:
        full = np.power(np.power(absx, p).sum(axis=axes, keepdims=True), 1.0 / p)
    full = full.astype(a.dtype, copy=False)
    out = full if keep else full.reshape([n for i, n in enumerate(a.shape) if i not in axes])

    def backward(g):
        gk = g.reshape(full.shape)
        sign = np.sign(a)
        if p in (math.inf, -math.inf):
            mask = absx == full
            count = mask.sum(axis=axes, keepdims=True, dtype=a.dtype)
            grad = sign * mask * (gk / np.maximum(count, 1))
        elif p == 0:
            grad = np.zeros_like(a)
        elif p == 1:
            grad = sign * gk
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                if p == 2:
                    scale = np.where(full == 0, 0, gk / full)
                    grad = a * scale
                else:
                    scale = np.where(full == 0, 0, gk / np.power(full, p - 1))
                    grad = sign * np.power(absx, p - 1) * scale
        return (grad.astype(x.array.dtype, copy=False),)

    return record(out, (x,), backward, "norm")


def matrix_norm(x, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None):
    """The matrix norm over the two dims ``dim``: 'fro', 'nuc', 1, -1, 2, -2, inf, -inf (as
    ``torch.linalg.matrix_norm``)."""
    _check_input("matrix_norm", x)
    dim = _dims(dim)
    if not isinstance(dim, tuple) or len(dim) != 2:
        raise ValueError(f"matrix_norm: dim must be a pair of dimensions, got {dim!r}")
    if x.ndim < 2:
        raise ValueError(f"matrix_norm: input must have at least 2 dimensions, got shape {x.shape}")
    rows, cols = normalize_axes(dim[0], x.ndim)[0], normalize_axes(dim[1], x.ndim)[0]
    if rows == cols:
        raise ValueError(f"matrix_norm: the two dims must differ, got {dim!r}")
    if dtype is not None:
        x = x.astype(dtype)
    if ord == "fro":
        return vector_norm(x, 2, (rows, cols), keepdim)
    if ord in ("nuc", 2, -2):
        return _singular_norm(x, ord, rows, cols, keepdim)
    if ord in (1, -1):
        summed, reduce = cols, rows  # a column's sum runs over the rows
    elif ord in (math.inf, -math.inf):
        summed, reduce = rows, cols
    else:
        raise ValueError(f"matrix_norm: ord must be 'fro', 'nuc', 1, -1, 2, -2, inf or -inf, got {ord!r}")
    sums = _sum(_abs(x), dim=reduce, keepdim=True)
    ext = amax if ord > 0 else amin
    out = ext(sums, dim=summed, keepdim=True)
    if not keepdim:
        out = out.reshape([n for i, n in enumerate(out.shape) if i not in (rows, cols)])
    return out


def _singular_norm(x, ord, rows, cols, keepdim):
    """'nuc' = Σ σ_i, 2 = σ_max, −2 = σ_min of each matrix; gradients U Vᵀ, u₁ v₁ᵀ, u_min v_minᵀ (reduced SVD)."""
    a = np.moveaxis(x.array, (rows, cols), (-2, -1))
    u, sv, vt = np.linalg.svd(a, full_matrices=False)
    if ord == "nuc":
        val = sv.sum(axis=-1)
    else:
        k = 0 if ord == 2 else -1                        # NumPy sorts singular values in descending order
        val = sv[..., k]
    out_shape = [n for i, n in enumerate(x.shape) if i not in (rows, cols)]
    if keepdim:
        out_shape = [1 if i in (rows, cols) else n for i, n in enumerate(x.shape)]
    out = val.astype(x.array.dtype, copy=False).reshape(out_shape)

    def backward(g):
        gb = g.reshape(val.shape)[..., None, None]
        if ord == "nuc":
            grad = gb * (u @ vt)
        else:
            grad = gb * (u[..., :, k, None] * vt[..., None, k, :])
        return (np.ascontiguousarray(np.moveaxis(grad, (-2, -1), (rows, cols))).astype(x.array.dtype, copy=False),)

    return record(out, (x,), backward, "norm")


def linalg_norm(x, ord=None, dim=None, keepdim=False, *, dtype=None):
    """``torch.linalg.norm``: a vector norm when ``dim`` is an int (or ``ord`` is None and ``dim`` is None: the
    2-norm of every element), a matrix norm when ``dim`` is a pair (or the input is 2-D and ``ord`` is given)."""
    _check_input("linalg.norm", x)
    dim = _dims(dim)
    if isinstance(dim, int):
        return vector_norm(x, 2 if ord is None else ord, dim, keepdim, dtype=dtype)
    if dim is None:
        if ord is None:
            return vector_norm(x, 2, None, keepdim, dtype=dtype)
        if x.ndim == 1:
            return vector_norm(x, ord, None, keepdim, dtype=dtype)
        if x.ndim == 2:
            return matrix_norm(x, ord, (0, 1), keepdim, dtype=dtype)
        raise ValueError(f"linalg.norm: with ord={ord!r} and no dim the input must be 1-D or 2-D, got shape "
                         f"{x.shape}; pass dim")
    if len(dim) == 1:
        return vector_norm(x, 2 if ord is None else ord, dim, keepdim, dtype=dtype)
    if len(dim) == 2:
        return matrix_norm(x, "fro" if ord is None else ord, dim, keepdim, dtype=dtype)
    raise ValueError(f"linalg.norm: dim must be an int or a pair, got {dim!r}; use vector_norm for more dims")


def norm(input, p="fro", dim=None, keepdim=False, out=None, dtype=None):
    """``torch.norm``: p='fro' (the default) or a number p is the vector p-norm over ``dim`` (every element when
    None; 'fro' needs at most two dims); p='nuc' is the nuclear norm of a matrix (or over a pair of dims)."""
    if out is not None:
        raise ValueError("norm: out= is not supported; assign the result instead")
    if p == "nuc":
        if dim is None and input.ndim != 2:
            raise ValueError(f"norm: p='nuc' needs a 2-D input or a pair of dims, got shape {input.shape}")
        return matrix_norm(input, "nuc", (0, 1) if dim is None else dim, keepdim, dtype=dtype)
    if isinstance(p, str):
        if p != "fro":
            raise ValueError(f"norm: p={p!r} is not supported; use 'fro', 'nuc' or a number")
        if dim is not None and not isinstance(dim, int) and len(dim) > 2:
            raise ValueError(f"norm: p='fro' takes at most two dims, got {dim!r}")
        p = 2
    return vector_norm(input, p, dim, keepdim, dtype=dtype)


def tensor_norm(self, p="fro", dim=None, keepdim=False, dtype=None):
    """``Tensor.norm(p='fro', dim=None, keepdim=False, dtype=None)``: :func:`norm` with the method's argument
    order (PyTorch's method has no ``out``)."""
    return norm(self, p, dim, keepdim, dtype=dtype)
