"""Weight penalties that enter the loss (and so the graph)."""

from __future__ import annotations

import numpy as np

from ..tensor import Tensor, record


def l1_penalty(params, lam: float) -> Tensor:
    """L1 penalty λ·Σᵢ Σ|wᵢ| over all tensors in ``params`` (Tibshirani 1996, the lasso), a 0-d Tensor in the graph.

    Its (sub)gradient is λ·sign(w), taken as 0 at w = 0. Add it to the loss: ``loss = ce + l1_penalty(
    model.parameters(), 1e-4)``. (For L2, use the optimiser's ``weight_decay``.)
    """
    if isinstance(params, Tensor):
        params = [params]
    params = tuple(params)
    if not params:
        raise ValueError("l1_penalty got no tensors; pass model.parameters() or a list of tensors")
    lam = float(lam)
    if not lam >= 0:
        raise ValueError(f"l1_penalty needs lam >= 0, got {lam!r}")
    dtype = params[0].array.dtype
    total = sum(float(np.abs(p.array).sum(dtype=np.float64)) for p in params)
    out = np.asarray(lam * total, dtype=dtype)

    def backward(g):
        scale = float(g) * lam
        return tuple((np.sign(p.array) * scale).astype(p.array.dtype, copy=False) for p in params)

    return record(out, params, backward, "l1_penalty")
