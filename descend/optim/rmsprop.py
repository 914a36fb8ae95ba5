"""RMSprop: divide the gradient by a running root-mean-square of its recent magnitudes."""

from __future__ import annotations

from .optimizer import Optimizer, check_nonneg
from .rules import add_decayed_weights, scale_by_learning_rate, scale_by_rms, trace


class RMSprop(Optimizer):
    """RMSprop (Hinton, Coursera lecture 6e, 2012):  g ← ∇θ + λθ;  v ← αv + (1 − α)g²;
    u ← g / (√v + ε)  (centered, Graves 2013: ḡ ← αḡ + (1 − α)g, u ← g / (√(v − ḡ²) + ε));
    with momentum μ > 0:  b ← μb + u, u ← b;  θ ← θ − ηu.

    ε is added outside the square root, as PyTorch does (the lecture puts it inside).

    Args (PyTorch's order): params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False.
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered))

    def _check(self, group):
        for name in ("lr", "alpha", "eps", "weight_decay", "momentum"):
            check_nonneg(name, group[name])
        if group["alpha"] > 1:
            raise ValueError(f"invalid alpha: {group['alpha']!r}; it must be in [0, 1]")

    def _chain(self, group):
        return [add_decayed_weights(), scale_by_rms(bool(group["centered"])), trace(), scale_by_learning_rate()]
