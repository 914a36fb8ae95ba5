"""Gradient clipping, in place: by the global norm of all gradients, or element-wise by value."""

from __future__ import annotations

import math

import numpy as np

from ..tensor import Tensor


def _grads(parameters):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad.array for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False) -> Tensor:
    """Scale all gradients together so their global norm is at most ``max_norm``; returns the norm before.

    ‖g‖ₚ = (Σ over parameters of ‖gᵢ‖ₚᵖ)^(1/p) (p = inf: the largest |g|); every gradient is multiplied by
    min(1, max_norm / (‖g‖ₚ + 1e-6)), as ``torch.nn.utils.clip_grad_norm_`` does (Pascanu et al. 2013).
    """
    norm_type = float(norm_type)
    if not max_norm >= 0:
        raise ValueError(f"max_norm must be >= 0, got {max_norm!r}")
    if not (norm_type > 0 or math.isinf(norm_type)):
        raise ValueError(f"norm_type must be > 0 or inf, got {norm_type!r}")
    grads = _grads(parameters)
    if not grads:
        return Tensor.from_array(np.zeros((), np.float32))
    dtype = np.result_type(*grads)
    if math.isinf(norm_type):
        norms = np.array([np.abs(g).max() if g.size else 0 for g in grads], dtype)
        total = norms.max()
    elif norm_type == 2.0:
        norms = np.array([math.sqrt(float(np.dot(g.ravel(), g.ravel()))) for g in grads], dtype)
        total = np.sqrt(np.dot(norms, norms))
    else:
        norms = np.array([(np.abs(g) ** norm_type).sum() ** (1.0 / norm_type) for g in grads], dtype)
        total = (norms ** norm_type).sum() ** (1.0 / norm_type)
    total = np.asarray(total, dtype)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(f"the total norm of order {norm_type} of the gradients is {float(total)}, so they cannot "
                           "be clipped; find the non-finite gradient or pass error_if_nonfinite=False")
    coef = min(float(max_norm) / (float(total) + 1e-6), 1.0)
    for g in grads:
        g *= coef
    return Tensor.from_array(total)


def clip_grad_value_(parameters, clip_value: float) -> None:
    """Clip every gradient element into [−clip_value, clip_value], in place."""
    if not clip_value >= 0:
        raise ValueError(f"clip_value must be >= 0, got {clip_value!r}")
    v = float(clip_value)
    for g in _grads(parameters):
        np.clip(g, -v, v, out=g)
