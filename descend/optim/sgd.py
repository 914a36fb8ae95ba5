"""Stochastic gradient descent, with momentum, dampening, Nesterov momentum and coupled weight decay."""

from __future__ import annotations

from .optimizer import Optimizer, check_nonneg
from .rules import add_decayed_weights, scale_by_learning_rate, trace


class SGD(Optimizer):
    """Gradient descent:  g ← ∇θ + λθ;  b ← μb + (1 − τ)g (b = g at the first step);
    g ← g + μb (Nesterov) or g ← b;  θ ← θ − ηg.

    Full-batch gradient descent, mini-batch gradient descent and per-sample (online) SGD are this same
    rule; they differ only in the batch the gradient was computed on (all samples, a mini-batch, one sample).
    Momentum is Polyak's heavy ball written as in Sutskever et al. 2013 (the learning rate multiplies the
    buffer, not the gradient inside it, as PyTorch does); ``nesterov=True`` uses their Nesterov form.

    Args (PyTorch's order): params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False.
    """

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov))

    def _check(self, group):
        for name in ("lr", "momentum", "weight_decay", "dampening"):
            check_nonneg(name, group[name])
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(f"nesterov momentum needs momentum > 0 and dampening = 0, got momentum="
                             f"{group['momentum']!r}, dampening={group['dampening']!r}")

    def _chain(self, group):
        return [add_decayed_weights(), trace(nesterov_key="nesterov"), scale_by_learning_rate()]
