"""Dropout (Srivastava et al., 2014), in its inverted form.

In training each element is kept with probability 1 − p and scaled by 1 / (1 − p), so the expected
output equals the input and evaluation needs no rescaling:  y = x · m / (1 − p), m ~ Bernoulli(1 − p);
dL/dx = g · m / (1 − p). ``dropout2d`` draws one m per (sample, channel) and zeroes whole feature maps
(Tompson et al., 2015). Masks come from ``descend.random.default_generator()`` unless a ``generator``
is given, so ``descend.manual_seed`` fixes them.
"""

from __future__ import annotations

import numpy as np

from .. import random as _random
from ..tensor import Tensor, record
from ._util import operand

__all__ = ["dropout", "dropout2d", "check_probability"]


def check_probability(p, name="dropout") -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float, np.floating, np.integer)) or not 0.0 <= p <= 1.0:
        raise ValueError(f"{name}: p is the probability of zeroing an element and must be in [0, 1], got {p!r}")
    return float(p)


def _apply_mask(x, p, mask_shape, generator, name):
    xd = x.array
    rng = generator if generator is not None else _random.default_generator()
    dtype = xd.dtype if xd.dtype.kind == "f" else np.float32
    if p == 1.0:
        keep = np.zeros(mask_shape, dtype=bool)
    else:
        keep = rng.random(mask_shape, dtype=np.float32 if dtype == np.float32 else np.float64) >= p
    scale = dtype.type(0.0 if p == 1.0 else 1.0 / (1.0 - p))
    # the mask is kept as booleans (a quarter of a float32 mask's memory): x·m/(1 − p) = (x/(1 − p))·[kept]
    out = xd * scale
    out *= keep

    def backward(g):
        gx = g * scale
        gx *= keep
        return (gx,)

    return record(out, (x,), backward, name)


def dropout(x, p: float = 0.5, training: bool = True, generator=None):
    """Zero each element with probability ``p`` and scale the rest by 1/(1 − p); identity when not training."""
    x = x if isinstance(x, Tensor) else operand(x)
    p = check_probability(p)
    if not training or p == 0.0:
        return x
    return _apply_mask(x, p, x.array.shape, generator, "dropout")


def dropout2d(x, p: float = 0.5, training: bool = True, generator=None):
    """Zero whole channels of an (N, C, H, W) or (N, C, L) input with probability ``p``, scaling the rest
    by 1/(1 − p); identity when not training."""
    x = x if isinstance(x, Tensor) else operand(x)
    p = check_probability(p, "dropout2d")
    if x.array.ndim not in (3, 4):
        raise ValueError(f"dropout2d expects an input of shape (N, C, H, W) or (N, C, L), got {x.array.shape}")
    if not training or p == 0.0:
        return x
    mask_shape = x.array.shape[:2] + (1,) * (x.array.ndim - 2)
    return _apply_mask(x, p, mask_shape, generator, "dropout2d")
