"""Regression and binary losses, each a single fused node: the per-element loss and its closed-form gradient
side by side, plus the argument checks every loss shares (:func:`check_reduction`, :func:`loss_input`,
:func:`float_target`).

Every loss takes ``reduction``: ``'mean'`` (the default), ``'sum'`` or ``'none'`` (the per-element losses),
with PyTorch's names, argument order and semantics. The class losses (NLL, cross-entropy) are in
:mod:`descend.ops.class_loss`.
"""

from __future__ import annotations

import numpy as np

from .. import backend
from ..tensor import Tensor, record

_REDUCTIONS = ("mean", "sum", "none")


# --------------------------------------------------------------------------------------------------
# argument checks shared by every loss


def check_reduction(name, reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{name}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def loss_input(name, x) -> Tensor:
    if not isinstance(x, Tensor):
        x = Tensor.from_array(backend.as_array(x))
    if x.array.dtype.kind != "f":
        raise TypeError(f"{name}: input must be floating point (predictions or logits), got {x.array.dtype}; "
                        "convert it with .float()")
    return x


def float_target(name, x: Tensor, target) -> Tensor:
    """The target as a Tensor of the input's dtype and shape; integer targets are cast (not an error)."""
    if isinstance(target, Tensor):
        if target.array.dtype != x.array.dtype:
            if target.requires_grad:
                from .arithmetic import cast
                target = cast(target, x.array.dtype)
            else:
                target = Tensor.from_array(target.array.astype(x.array.dtype))
    else:
        target = Tensor.from_array(np.asarray(target, dtype=x.array.dtype))
    if target.array.shape != x.array.shape:
        raise ValueError(f"{name}: target shape {tuple(target.array.shape)} differs from input shape "
                         f"{tuple(x.array.shape)}; they must be equal (reshape one, e.g. target.reshape"
                         f"{tuple(x.array.shape)}, to avoid silent broadcasting)")
    return target


def _elementwise_weight(name, weight, x: Tensor):
    if weight is None:
        return None
    w = np.asarray(weight.array if isinstance(weight, Tensor) else weight, dtype=x.array.dtype)
    try:
        return np.broadcast_to(w, x.array.shape)
    except ValueError:
        raise ValueError(f"{name}: weight of shape {w.shape} cannot be broadcast to the input's shape "
                         f"{tuple(x.array.shape)}") from None


def _reduce(name, x: Tensor, t: Tensor, elem, reduction, dx, dt):
    """Reduce the per-element losses ``elem``; ``dx()`` / ``dt()`` give ∂ℓ/∂x and ∂ℓ/∂t element-wise (lazily,
    only when backward asks for them). The mean's gradient is ∂ℓ/∂x / n."""
    if reduction == "none":
        out = elem
    elif reduction == "sum":
        out = elem.sum()
    else:
        out = elem.mean()
    n = elem.size

    def backward(g):
        scale = g / n if reduction == "mean" else g
        gx = (scale * dx()).astype(x.array.dtype, copy=False) if x.requires_grad else None
        gt = (scale * dt()).astype(t.array.dtype, copy=False) if t.requires_grad else None
        return gx, gt

    return record(np.asarray(out, dtype=x.array.dtype), (x, t), backward, name)


# --------------------------------------------------------------------------------------------------
# regression losses


def mse_loss(input, target, reduction: str = "mean"):
    """Mean squared error ℓ = (x − y)²;  ∂ℓ/∂x = 2(x − y) = −∂ℓ/∂y."""
    check_reduction("mse_loss", reduction)
    x = loss_input("mse_loss", input)
    t = float_target("mse_loss", x, target)
    d = x.array - t.array
    return _reduce("mse_loss", x, t, d * d, reduction, lambda: 2 * d, lambda: -2 * d)


def l1_loss(input, target, reduction: str = "mean"):
    """Absolute error ℓ = |x − y|;  ∂ℓ/∂x = sign(x − y) (0 where x = y) = −∂ℓ/∂y."""
    check_reduction("l1_loss", reduction)
    x = loss_input("l1_loss", input)
    t = float_target("l1_loss", x, target)
    d = x.array - t.array
    return _reduce("l1_loss", x, t, np.abs(d), reduction, lambda: np.sign(d), lambda: -np.sign(d))


def huber_loss(input, target, reduction: str = "mean", delta: float = 1.0):
    """Huber loss (Huber 1964): with d = x − y,  ℓ = ½d² if |d| < δ, else δ(|d| − ½δ).

    ∂ℓ/∂x = clip(d, −δ, δ) = −∂ℓ/∂y: quadratic near zero, a constant pull of size δ far from it.
    """
    check_reduction("huber_loss", reduction)
    if not delta > 0:
        raise ValueError(f"huber_loss: delta must be > 0, got {delta!r}")
    x = loss_input("huber_loss", input)
    t = float_target("huber_loss", x, target)
    d = x.array - t.array
    a = np.abs(d)
    elem = np.where(a < delta, 0.5 * d * d, delta * (a - 0.5 * delta)).astype(x.array.dtype, copy=False)
    return _reduce("huber_loss", x, t, elem, reduction, lambda: np.clip(d, -delta, delta),
                   lambda: -np.clip(d, -delta, delta))


def smooth_l1_loss(input, target, reduction: str = "mean", beta: float = 1.0):
    """Smooth L1 (Girshick 2015, Fast R-CNN): ℓ = ½d²/β if |d| < β, else |d| − ½β  (Huber with δ = β, / β).

    ∂ℓ/∂x = clip(d/β, −1, 1). ``beta=0`` is the L1 loss.
    """
    check_reduction("smooth_l1_loss", reduction)
    if not beta >= 0:
        raise ValueError(f"smooth_l1_loss: beta must be >= 0, got {beta!r}")
    if beta == 0:
        return l1_loss(input, target, reduction)
    x = loss_input("smooth_l1_loss", input)
    t = float_target("smooth_l1_loss", x, target)
    d = x.array - t.array
    a = np.abs(d)
    elem = np.where(a < beta, 0.5 * d * d / beta, a - 0.5 * beta).astype(x.array.dtype, copy=False)
    return _reduce("smooth_l1_loss", x, t, elem, reduction, lambda: np.clip(d / beta, -1, 1),
                   lambda: -np.clip(d / beta, -1, 1))


# --------------------------------------------------------------------------------------------------
# binary classification


def binary_cross_entropy(input, target, weight=None, reduction: str = "mean"):
    """Binary cross-entropy on probabilities p ∈ [0, 1]:  ℓ = −w[y log p + (1 − y) log(1 − p)].

    As in PyTorch each log is clamped at −100, so p = 0 or 1 gives a finite loss, and
    ∂ℓ/∂p = w(p − y) / max(p(1 − p), 1e-12);  ∂ℓ/∂y = w[log(1 − p) − log p].
    For logits use :func:`binary_cross_entropy_with_logits` (stable, and faster).
    """
    name = "binary_cross_entropy"
    check_reduction(name, reduction)
    x = loss_input(name, input)
    t = float_target(name, x, target)
    p, y = x.array, t.array
    if p.size:
        lo, hi = p.min(), p.max()
        if not (lo >= 0 and hi <= 1):
            bad = lo if not lo >= 0 else hi
            raise ValueError(f"{name}: input must hold probabilities in [0, 1], found {float(bad)!r}; apply sigmoid "
                             "first, or use binary_cross_entropy_with_logits (BCEWithLogitsLoss) on raw logits")
    w = _elementwise_weight(name, weight, x)
    with np.errstate(divide="ignore"):
        log_p = np.maximum(np.log(p), -100)
        log_q = np.maximum(np.log1p(-p), -100)
    elem = -(y * log_p + (1 - y) * log_q)
    if w is not None:
        elem = elem * w

    def dx():
        g = (p - y) / np.maximum(p * (1 - p), 1e-12)
        return g if w is None else g * w

    def dt():
        g = log_q - log_p
        return g if w is None else g * w

    return _reduce(name, x, t, elem, reduction, dx, dt)


def binary_cross_entropy_with_logits(input, target, weight=None, reduction: str = "mean", pos_weight=None):
    """Binary cross-entropy on logits x, fused with the sigmoid and stable for any |x|:

        ℓ = w[(1 − y)·x + l·softplus(−x)],   l = 1 + (pos_weight − 1)·y,
        softplus(−x) = log(1 + e^{−x}) = max(−x, 0) + log(1 + e^{−|x|})

    (without ``pos_weight``: ℓ = max(x, 0) − x·y + log(1 + e^{−|x|})). ``pos_weight`` (broadcast along
    the last, class, dimension) scales the loss of positive targets.
    ∂ℓ/∂x = w[(1 − y) − l·σ(−x)] (= w(σ(x) − y) without pos_weight);
    ∂ℓ/∂y = w[−x + (pos_weight − 1)·softplus(−x)].
    """
    name = "binary_cross_entropy_with_logits"
    check_reduction(name, reduction)
    x = loss_input(name, input)
    t = float_target(name, x, target)
    z, y = x.array, t.array
    w = _elementwise_weight(name, weight, x)
    pw = None
    if pos_weight is not None:
        pw = np.asarray(pos_weight.array if isinstance(pos_weight, Tensor) else pos_weight, dtype=z.dtype)
        try:
            np.broadcast_shapes(pw.shape, z.shape)
        except ValueError:
            raise ValueError(f"{name}: pos_weight of shape {pw.shape} cannot be broadcast to the input's shape "
                             f"{tuple(z.shape)}; give one weight per class (the last dimension, "
                             f"{z.shape[-1] if z.ndim else 1})") from None
    e = np.exp(-np.abs(z))  # in (0, 1]: never overflows
    softplus_neg = np.maximum(-z, 0) + np.log1p(e)  # log(1 + e^{−x}), stable
    if pw is None:
        elem = (1 - y) * z + softplus_neg
    else:
        lw = 1 + (pw - 1) * y
        elem = (1 - y) * z + lw * softplus_neg
    if w is not None:
        elem = elem * w

    def dx():
        sig_neg = np.where(z >= 0, e, 1) / (1 + e)  # σ(−x) from e^{−|x|}, no overflow
        g = (1 - y) - sig_neg if pw is None else (1 - y) - (1 + (pw - 1) * y) * sig_neg
        return g if w is None else g * w

    def dt():
        g = -z if pw is None else -z + (pw - 1) * softplus_neg
        return g if w is None else g * w

    return _reduce(name, x, t, elem, reduction, dx, dt)


__all__ = ["check_reduction", "loss_input", "float_target", "mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss",
           "binary_cross_entropy", "binary_cross_entropy_with_logits"]
