"""The class losses, each a single fused node: negative log-likelihood and cross-entropy.

For C classes, logits z (N, C, *) and a target of class indices y or of class probabilities q:

    nll_loss(logp, y)      = −logp[y]
    cross_entropy(z, y)    = −log softmax(z)[y]                     (label smoothing ε: q = (1 − ε)·onehot(y) + ε/C)
    dL/dz                  = softmax(z)·Σ_c q_c − q                   (softmax(z) − onehot(y) for plain targets)

A weighted ``'mean'`` divides by Σᵢ w[yᵢ] over the non-ignored targets, as PyTorch does. Cross-entropy is
fused: one stable log-softmax forward and one backward step instead of a chain of primitive ops. The
argument checks and reductions shared with the other losses are in :mod:`descend.ops.loss`.
"""

from __future__ import annotations

import numpy as np

from ..tensor import Tensor, record
from .loss import check_reduction, float_target, loss_input

__all__ = ["nll_loss", "cross_entropy"]


# --------------------------------------------------------------------------------------------------
# multi-class: class-index targets


def _class_view(name, x: np.ndarray, target: np.ndarray):
    """Logits (N, C, d1, ...) or (C,) and index targets (N, d1, ...) or () as a 2-D (M, C) array and flat
    (M,) targets, plus the function mapping a (M, C) gradient back to the logits' layout."""
    if x.ndim == 0:
        raise ValueError(f"{name}: input must have a class dimension, got a 0-d tensor")
    if x.ndim == 1:
        expected = ()
    else:
        expected = (x.shape[0],) + x.shape[2:]
    if target.shape != expected:
        raise ValueError(f"{name}: target shape {tuple(target.shape)} does not fit input shape {tuple(x.shape)}; "
                         f"class-index targets must have shape {expected} (the input's shape without the class "
                         "dimension 1)")
    C = x.shape[-1] if x.ndim <= 2 else x.shape[1]
    if x.ndim <= 2:
        x2 = x.reshape(-1, C)
        return x2, target.reshape(-1), C, (lambda g2: g2.reshape(x.shape))
    moved_shape = (x.shape[0],) + x.shape[2:] + (C,)
    x2 = np.moveaxis(x, 1, -1).reshape(-1, C)
    return x2, target.reshape(-1), C, (lambda g2: np.ascontiguousarray(np.moveaxis(g2.reshape(moved_shape), -1, 1)))


def _check_indices(name, t: np.ndarray, C: int, ignore_index: int):
    """Check class indices are in [0, C) (or equal ``ignore_index``); return the mask of counted targets, or
    None when every target counts."""
    if t.size == 0:
        return None
    lo, hi = t.min(), t.max()
    if lo >= 0 and hi < C:
        if 0 <= ignore_index < C and (lo <= ignore_index <= hi):
            keep = t != ignore_index
            return None if keep.all() else keep
        return None
    keep = t != ignore_index
    bad = t[keep & ((t < 0) | (t >= C))]
    if bad.size:
        raise ValueError(f"{name}: target class index {int(bad[0])} is out of range for {C} classes "
                         f"(valid: 0 to {C - 1}, or ignore_index={ignore_index}); {bad.size} target(s) are out "
                         "of range — check the number of outputs of the last layer and the labels")
    return keep


def _class_weight(name, weight, C, dtype):
    if weight is None:
        return None
    w = np.asarray(weight.array if isinstance(weight, Tensor) else weight, dtype=dtype)
    if w.shape != (C,):
        raise ValueError(f"{name}: weight must have one entry per class, shape ({C},), got shape {w.shape}")
    return w


def _index_target(name, x: Tensor, target, hint_probabilities: bool) -> np.ndarray:
    t = np.asarray(target.array if isinstance(target, Tensor) else target)
    if t.dtype.kind in "iu":
        return t
    if t.dtype.kind == "f":
        more = (f", or give class probabilities of the input's shape {tuple(x.array.shape)}"
                if hint_probabilities else "")
        raise TypeError(f"{name}: target is {t.dtype} of shape {tuple(t.shape)}, but class-index targets must be "
                        f"integers; convert them with target.long(){more}")
    raise TypeError(f"{name}: target must hold integer class indices, got dtype {t.dtype}")


def _legacy_reduction(size_average, reduce, reduction):
    """PyTorch's deprecated ``size_average`` / ``reduce`` flags, either given overriding ``reduction``:
    ``reduce=False`` -> 'none', else ``size_average=False`` -> 'sum', else 'mean'."""
    if size_average is None and reduce is None:
        return reduction
    return "none" if reduce is False else "sum" if size_average is False else "mean"


def nll_loss(input, target, weight=None, size_average=None, ignore_index: int = -100, reduce=None,
             reduction: str = "mean"):
    """Negative log-likelihood of log-probabilities x (N, C, ...) at class indices y (N, ...):

        ℓᵢ = −w[yᵢ]·x[i, yᵢ]  (0 where yᵢ = ignore_index);  'mean' = Σᵢ ℓᵢ / Σᵢ w[yᵢ] over counted targets.

    ∂ℓᵢ/∂x[i, c] = −w[yᵢ] at c = yᵢ, 0 elsewhere. Feed it ``log_softmax`` outputs, or use
    :func:`cross_entropy` on logits (fused and faster). ``size_average`` / ``reduce`` are PyTorch's
    deprecated flags (either overrides ``reduction``, as in PyTorch).
    """
    name = "nll_loss"
    reduction = _legacy_reduction(size_average, reduce, reduction)
    check_reduction(name, reduction)
    x = loss_input(name, input)
    t = _index_target(name, x, target, hint_probabilities=False)
    x2, tf, C, unflatten = _class_view(name, x.array, t)
    keep = _check_indices(name, tf, C, ignore_index)
    w = _class_weight(name, weight, C, x.array.dtype)
    rows = np.arange(tf.size)
    safe = tf if keep is None else np.where(keep, tf, 0)
    wi = np.ones(tf.size, dtype=x.array.dtype) if w is None else w[safe]
    if keep is not None:
        wi = wi * keep
    elem = -wi * x2[rows, safe]
    out, scale_of = _class_reduce(elem, wi, reduction, t.shape)

    def backward(g):
        g2 = np.zeros_like(x2)
        g2[rows, safe] = -wi * scale_of(g)
        return (unflatten(g2),)

    return record(out, (x,), backward, name)


def _class_reduce(elem, wi, reduction, out_shape):
    """Reduce per-target losses; return the output and g ↦ per-target upstream scale."""
    if reduction == "none":
        return elem.reshape(out_shape), (lambda g: g.reshape(-1))
    if reduction == "sum":
        return np.asarray(elem.sum()), (lambda g: g)
    total = wi.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.asarray(elem.sum() / total, dtype=elem.dtype)  # 0/0 = nan when every target is ignored
    return out, (lambda g: g / total)


# --------------------------------------------------------------------------------------------------
# cross-entropy (fused log-softmax + NLL)


def cross_entropy(input, target, weight=None, ignore_index: int = -100, reduction: str = "mean",
                  label_smoothing: float = 0.0):
    """Cross-entropy of logits z (N, C, d1, ...) or (C,), fused with a stable log-softmax:

        log pᵢ = zᵢ − max zᵢ − log Σ_c exp(z_ic − max zᵢ)
        ℓᵢ = −Σ_c q_ic log p_ic,   q_ic = (1 − ε)·w[yᵢ]·[c = yᵢ] + (ε/C)·w_c

    with class indices y (N, d1, ...) (label smoothing ε, Szegedy et al. 2016; ignored targets give 0), or
    class probabilities t of the logits' shape: q_ic = w_c((1 − ε)t_ic + ε/C). 'mean' divides by Σᵢ w[yᵢ]
    over counted targets for index targets (the count when unweighted), by the number of samples for
    probability targets — PyTorch's semantics.

    One backward step: ∂ℓᵢ/∂zᵢ = pᵢ·Σ_c q_ic − qᵢ, i.e. softmax(z) − onehot(y) in the plain case.
    """
    name = "cross_entropy"
    check_reduction(name, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{name}: label_smoothing must be in [0, 1], got {label_smoothing!r}")
    x = input if isinstance(input, Tensor) and input.array.dtype.kind == "f" else loss_input(name, input)
    t_arr = target.array if isinstance(target, Tensor) else np.asarray(target)
    if t_arr.shape == x.array.shape and x.array.ndim >= 1 and t_arr.dtype.kind == "f":
        return _cross_entropy_probs(name, x, target, weight, reduction, label_smoothing)
    if t_arr.shape == x.array.shape and t_arr.dtype.kind in "iub" and x.array.ndim >= 1:
        raise TypeError(f"{name}: target is {t_arr.dtype} with the input's shape {tuple(x.array.shape)}; "
                        f"class-probability targets must be floating point (target.float()), or give class "
                        f"indices of shape {(x.array.shape[0],) + x.array.shape[2:] if x.array.ndim > 1 else ()}")
    t = _index_target(name, x, t_arr, hint_probabilities=True)
    z = x.array
    if (z.ndim == 2 and weight is None and label_smoothing == 0.0 and reduction == "mean"
            and t.shape == (z.shape[0],)):
        C = z.shape[1]
        # one pass checks 0 <= t < C: a negative int64 read as uint64 is huge
        in_range = t.size and (t.view(np.uint64).max() < C if t.dtype == np.int64 else t.min() >= 0 and t.max() < C)
        if in_range and not (0 <= ignore_index < C and (t == ignore_index).any()):
            return _cross_entropy_fast(x, t)
    return _cross_entropy_indices(name, x, t, weight, ignore_index, reduction, label_smoothing)


def _exp_shifted_rows(z2):
    """(z − shift, e^{z − shift}, Σ_c e^{z − shift}) for (M, C) logits, per row stable.

    Shifting by the global max instead of each row's max costs one cheap full reduction rather than a
    slow short-axis one; it is exact unless some row's max lies far (> ~69) below the global max, in which
    case its sum would underflow towards 0 and the per-row shift is used instead.
    """
    if z2.size:
        shifted = z2 - z2.max()
        e = np.exp(shifted)
        se = e @ np.ones(z2.shape[1], dtype=e.dtype)
        if se.min() >= 1e-30:  # also False for NaN, which then goes the per-row way
            return shifted, e, se[:, None]
    shifted = z2 - z2.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return shifted, e, e.sum(axis=1, keepdims=True)


def _cross_entropy_fast(x: Tensor, t: np.ndarray):
    """The common case: (N, C) logits, valid indices, no weights, no smoothing, mean. ∂L/∂z = (p − onehot)/N."""
    z = x.array
    n = z.shape[0]
    rows = np.arange(n)
    shifted, e, se = _exp_shifted_rows(z)
    out = (np.log(se).sum() - shifted[rows, t].sum()) / n

    def backward(g):
        p = e / se
        p[rows, t] -= 1
        p *= g / n
        return (p,)

    return record(np.asarray(out, dtype=z.dtype), (x,), backward, "cross_entropy")


def _log_softmax_rows(z2):
    shifted, e, se = _exp_shifted_rows(z2)
    return shifted - np.log(se), e, se


def _cross_entropy_indices(name, x: Tensor, t: np.ndarray, weight, ignore_index, reduction, eps):
    z2, tf, C, unflatten = _class_view(name, x.array, t)
    keep = _check_indices(name, tf, C, ignore_index)
    w = _class_weight(name, weight, C, x.array.dtype)
    m = tf.size
    rows = np.arange(m)
    safe = tf if keep is None else np.where(keep, tf, 0)
    logp, e, se = _log_softmax_rows(z2)
    dtype = x.array.dtype
    wi = np.ones(m, dtype=dtype) if w is None else w[safe]  # weight of each target
    if keep is not None:
        wi = wi * keep
    elem = -wi * logp[rows, safe]
    if eps:
        smooth = -(logp.sum(axis=1) if w is None else logp @ w)
        if keep is not None:
            smooth = smooth * keep
        elem = (1 - eps) * elem + (eps / C) * smooth
    out, scale_of = _class_reduce(elem.astype(dtype, copy=False), wi, reduction, t.shape)

    def backward(g):
        scale = scale_of(g)
        # q: target distribution; grad_i = p_i Σ_c q_ic − q_i, each row scaled by its upstream factor
        row_scale = np.broadcast_to(np.asarray(scale, dtype=dtype), (m,))
        if eps:
            counted = 1 if keep is None else keep
            wsum = C if w is None else w.sum()
            qsum = (1 - eps) * wi + (eps / C) * wsum * counted
            grad = (e / se) * (qsum * row_scale)[:, None]
            smooth_q = (eps / C) * (np.ones(C, dtype=dtype) if w is None else w)
            grad -= smooth_q[None, :] * (row_scale if keep is None else row_scale * keep)[:, None]
            grad[rows, safe] -= (1 - eps) * wi * row_scale
        else:
            grad = (e / se) * (wi * row_scale)[:, None]
            grad[rows, safe] -= wi * row_scale
        return (unflatten(grad.astype(dtype, copy=False)),)

    return record(out, (x,), backward, name)


def _cross_entropy_probs(name, x: Tensor, target, weight, reduction, eps):
    z = x.array
    t = float_target(name, x, target)
    if z.ndim == 1:
        C, class_axis = z.shape[0], 0
    else:
        C, class_axis = z.shape[1], 1
    w = _class_weight(name, weight, C, z.dtype)
    wshape = [1] * z.ndim
    wshape[class_axis] = C
    shifted = z - z.max(axis=class_axis, keepdims=True)
    e = np.exp(shifted)
    se = e.sum(axis=class_axis, keepdims=True)
    logp = shifted - np.log(se)
    q = t.array if not eps else (1 - eps) * t.array + eps / C
    if w is not None:
        q = q * w.reshape(wshape)
    elem = -(q * logp).sum(axis=class_axis)
    n_samples = elem.size
    if reduction == "none":
        out = elem
    elif reduction == "sum":
        out = elem.sum()
    else:
        out = elem.sum() / n_samples if n_samples else np.float32(np.nan)

    def backward(g):
        if reduction == "none":
            scale = np.expand_dims(g, class_axis)
        else:
            scale = g / n_samples if reduction == "mean" else g
        gx = gt = None
        if x.requires_grad:
            gx = ((e / se) * q.sum(axis=class_axis, keepdims=True) - q) * scale
            gx = gx.astype(z.dtype, copy=False)
        if t.requires_grad:
            gt = -(1 - eps) * logp * scale
            if w is not None:
                gt = gt * w.reshape(wshape)
            gt = gt.astype(z.dtype, copy=False)
        return gx, gt

    return record(np.asarray(out, dtype=z.dtype), (x, t), backward, name)
