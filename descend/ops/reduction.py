"""Reductions (sum, mean, max, min, amax, amin, var, logsumexp) and the softmax family.

Each takes NumPy's ``axis``/``keepdims`` or PyTorch's ``dim``/``keepdim``.
"""

from __future__ import annotations

import numpy as np

from ..tensor import record
from ._util import kept_shape, normalize_axes, resolve_axis, spread
from .sorting import extreme_along


def _count(shape, axes):
    n = 1
    for a in axes:
        n *= shape[a]
    return n


_add_reduce = np.add.reduce  # ndarray.sum and np.mean without their Python wrappers (per-op overhead)


def _numpy_axis(axes, ndim):
    """``None`` for a reduction over every axis (NumPy's fastest path), else the tuple of axes."""
    return None if len(axes) == ndim else axes


def sum(a, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Σ over ``axis``; the gradient is broadcast back to every summed element."""
    if dim is not None or keepdim is not None or isinstance(axis, list):
        axis, keepdims = resolve_axis(axis, dim, keepdims, keepdim)
    x = a.array
    shape = x.shape
    axes = normalize_axes(axis, x.ndim)
    out = _add_reduce(x, axis=_numpy_axis(axes, x.ndim), keepdims=keepdims)
    return record(out, (a,), lambda g: (spread(g, shape, axes, keepdims),), "sum")


def mean(a, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """(1/n) Σ over ``axis``; each element's gradient is dL/dy / n."""
    if dim is not None or keepdim is not None or isinstance(axis, list):
        axis, keepdims = resolve_axis(axis, dim, keepdims, keepdim)
    x = a.array
    shape = x.shape
    axes = normalize_axes(axis, x.ndim)
    n = _count(shape, axes)
    out = np.true_divide(_add_reduce(x, axis=_numpy_axis(axes, x.ndim), keepdims=keepdims), n)
    return record(out, (a,), lambda g: (spread(g / n, shape, axes, keepdims),), "mean")


def _extreme(name, a, axis, keepdims, dim, keepdim, fn):
    axis, keepdims = resolve_axis(axis, dim, keepdims, keepdim)
    x = a.array
    axes = normalize_axes(axis, x.ndim)
    if x.size == 0:
        raise ValueError(f"{name}() of an empty tensor of shape {x.shape}")
    full = fn(x, axis=axes, keepdims=True)
    out = full if keepdims else full.reshape([n for i, n in enumerate(x.shape) if i not in axes])
    kshape = full.shape

    def backward(g):
        mask = x == full
        count = mask.sum(axis=axes, keepdims=True, dtype=x.dtype)  # ties share the gradient equally (as amax)
        return (mask * (g.reshape(kshape) / count),)

    return record(out, (a,), backward, name)


def amax(a, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Maximum over ``dim`` (an int, a tuple, or None for all); the gradient goes to the maximal elements
    (shared equally at ties, as PyTorch's ``amax``)."""
    return _extreme("amax", a, axis, keepdims if keepdims is not None else keepdim, dim, None, np.max)


def amin(a, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Minimum over ``dim`` (see :func:`amax`)."""
    return _extreme("amin", a, axis, keepdims if keepdims is not None else keepdim, dim, None, np.min)


def _max_or_min(name, a, dim, keepdim, axis, keepdims, largest):
    if dim is not None and not isinstance(dim, (int, np.integer, tuple, list)):
        from .arithmetic import maximum, minimum  # max(a, other): the element-wise form
        if axis is not None or keepdims is not None or keepdim:
            raise TypeError(f"{name}(input, other) takes no dim or keepdim")
        return (maximum if largest else minimum)(a, dim)
    keep = keepdims if keepdims is not None else keepdim
    if dim is None:  # a full reduction, or NumPy's axis= (values only, as np.max)
        return _extreme(name, a, axis, keep, None, None, np.max if largest else np.min)
    if axis is not None:
        raise TypeError("give either axis (NumPy) or dim (PyTorch), not both")
    if isinstance(dim, (tuple, list)):
        raise TypeError(f"{name}(dim=...) takes one dim, got {dim!r}; use a{name}(dim={tuple(dim)!r}) for "
                        "several (values only)")
    return extreme_along(a, dim, keep, largest, name)


def max(a, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """PyTorch's ``max``, three ways:

    * ``max(a)``: the largest element; the gradient is shared equally by tied maxima (as ``amax``);
    * ``max(a, dim, keepdim=False)``: the named tuple ``(values, indices)`` along ``dim``; the gradient of
      ``values`` goes to the position in ``indices`` (the first maximum at ties);
    * ``max(a, other)``: the element-wise :func:`~descend.ops.arithmetic.maximum`.

    NumPy's ``max(a, axis=..., keepdims=...)`` gives the values only (any axes, ties shared).
    """
    return _max_or_min("max", a, dim, keepdim, axis, keepdims, True)


def min(a, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """PyTorch's ``min``: ``min(a)``, ``min(a, dim)`` -> ``(values, indices)``, ``min(a, other)`` (see :func:`max`)."""
    return _max_or_min("min", a, dim, keepdim, axis, keepdims, False)


def var(a, axis=None, keepdims=False, *, correction=1, unbiased=None, ddof=None, dim=None, keepdim=None):
    """Variance Σ(x − x̄)² / (n − correction) over ``axis``.

    ``correction=1`` (the default, as in PyTorch) is the unbiased estimate; ``correction=0`` (or NumPy's
    ``ddof=0``, PyTorch's ``unbiased=False``) the population variance. d/dx_i = 2(x_i − x̄)/(n − correction).
    """
    axis, keepdims = resolve_axis(axis, dim, keepdims, keepdim)
    if ddof is not None:
        correction = ddof
    if unbiased is not None:
        correction = 1 if unbiased else 0
    x = a.array
    axes = normalize_axes(axis, x.ndim)
    n = _count(x.shape, axes)
    denom = n - correction
    if denom <= 0:
        raise ValueError(f"var over {n} element(s) with correction={correction} divides by {denom}; "
                         "use correction=0 or reduce over more elements")
    centred = x - x.mean(axis=axes, keepdims=True)
    out = (centred * centred).sum(axis=axes, keepdims=keepdims) / denom
    kshape = kept_shape(x.shape, axes)
    return record(out, (a,), lambda g: (g.reshape(kshape) * (2.0 / denom) * centred,), "var")


def std(a, axis=None, keepdims=False, *, correction=1, unbiased=None, ddof=None, dim=None, keepdim=None):
    """Standard deviation √var (see :func:`var` for ``correction``)."""
    from .arithmetic import sqrt
    return sqrt(var(a, axis, keepdims, correction=correction, unbiased=unbiased, ddof=ddof, dim=dim,
                    keepdim=keepdim))


def logsumexp(a, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """log Σ exp(x), computed as m + log Σ exp(x − m) with m = max x (no overflow for large x).

    d/dx_i = exp(x_i − logsumexp(x)) = softmax(x)_i.
    """
    axis, keepdims = resolve_axis(axis, dim, keepdims, keepdim)
    x = a.array
    axes = normalize_axes(axis, x.ndim)
    m = np.max(x, axis=axes, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    with np.errstate(divide="ignore"):  # log 0 = −inf is the right answer when every x is −inf
        lse = np.log(np.exp(x - m).sum(axis=axes, keepdims=True)) + m
    out = lse if keepdims else lse.reshape([n for i, n in enumerate(x.shape) if i not in axes])
    return record(out, (a,), lambda g: (g.reshape(lse.shape) * np.exp(x - lse),), "logsumexp")


def _softmax_array(x, axis):
    z = np.exp(x - np.max(x, axis=axis, keepdims=True))
    z /= z.sum(axis=axis, keepdims=True)
    return z


def softmax(a, axis=-1, *, dim=None):
    """softmax(x)_i = exp(x_i − max x) / Σ_j exp(x_j − max x) along ``axis`` (stable for large logits).

    Backward: dL/dx = s ⊙ (g − Σ_j g_j s_j).
    """
    if dim is not None:
        axis = dim
    s = _softmax_array(a.array, axis)

    def backward(g):
        return (s * (g - (g * s).sum(axis=axis, keepdims=True)),)

    return record(s, (a,), backward, "softmax")


def log_softmax(a, axis=-1, *, dim=None):
    """log softmax(x) = x − logsumexp(x) along ``axis`` (stable). Backward: g − softmax(x) Σ_j g_j."""
    if dim is not None:
        axis = dim
    x = a.array
    shifted = x - np.max(x, axis=axis, keepdims=True)
    out = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))

    def backward(g):
        return (g - np.exp(out) * g.sum(axis=axis, keepdims=True),)

    return record(out, (a,), backward, "log_softmax")
