"""Optimiser kernels (float32): the whole Adam / AdamW step of a flat parameter range in one pass.

With the moments stored scaled (m/s₁, v/s₂; see :class:`descend.optim.moment_rules.ScaleByAdam`) and, per
element, g the gradient, θ the parameter:

    g ← g + λ_c θ                              (coupled L2, Adam's ``weight_decay``)
    m ← β₁ m + c₁ g,   v ← β₂ v + c₂ g²,        c₁ = (1 − β₁)/s₁, c₂ = (1 − β₂)/s₂
    v̂ ← max(v̂, v) (AMSGrad) or v̂ = v
    θ ← θ + m / (√v̂ · a + b) − η λ_d θ         (λ_d: AdamW's decoupled ``weight_decay``)

where a and b fold the bias corrections, the scales and the step −η into two numbers
(:meth:`ScaleByAdam._denominator <descend.optim.moment_rules.ScaleByAdam>`). Each operation is the one the
NumPy path does, in the same order, so the moments round alike; the step replaces about ten array passes.
"""

from __future__ import annotations

import numpy as np

from . import kernel, prange

__all__ = ["adam_step"]


@kernel(parallel=True)
def adam_step(g, theta, m, v, vmax, b1, c1, b2, c2, a, b, wd_coupled, wd_decoupled_lr, amsgrad):
    """One Adam step over flat float32 arrays (``vmax`` is used only when ``amsgrad``)."""
    for i in prange(g.size):
        gi = g[i]
        if wd_coupled != 0:
            gi = gi + theta[i] * wd_coupled
        mi = m[i] * b1 + gi * c1
        m[i] = mi
        vi = v[i] * b2 + (gi * gi) * c2
        v[i] = vi
        if amsgrad:
            w = vmax[i]
            if not vi <= w:  # np.maximum's rule: the larger, or NaN if either is NaN
                vmax[i] = vi
            else:
                vi = w
        t = theta[i]
        step = mi / (np.sqrt(vi) * a + b)
        if wd_decoupled_lr != 0:
            step = step - t * wd_decoupled_lr
        theta[i] = t + step
