"""Adagrad: per-coordinate learning rates from the accumulated squared gradients."""

from __future__ import annotations

from .optimizer import Optimizer, check_nonneg
from .rules import add_decayed_weights, scale_by_learning_rate, scale_by_rss


class Adagrad(Optimizer):
    """Adagrad (Duchi, Hazan & Singer 2011):  g ← ∇θ + λθ;  G ← G + g²;
    θ ← θ − η / (1 + (t − 1)·lr_decay) · g / (√G + ε).

    G starts at ``initial_accumulator_value``. The lr_decay factor is PyTorch's addition, not the paper's.

    Args (PyTorch's order): params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10.
    """

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10):
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps))

    def _check(self, group):
        for name in ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"):
            check_nonneg(name, group[name])

    def _chain(self, group):
        return [add_decayed_weights(), scale_by_rss(group["initial_accumulator_value"]),
                scale_by_learning_rate(decay_key="lr_decay")]
