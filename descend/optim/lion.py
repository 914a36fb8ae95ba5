"""Lion: the sign of an interpolated momentum, with decoupled weight decay."""

from __future__ import annotations

from .optimizer import Optimizer, check_betas, check_nonneg
from .rules import add_decayed_weights, scale_by_learning_rate, scale_by_lion


class Lion(Optimizer):
    """Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms"):
    c ← β₁m + (1 − β₁)g;  θ ← θ − η(sign(c) + λθ);  m ← β₂m + (1 − β₂)g.

    Every coordinate moves by exactly ±η (plus decay), so use a learning rate 3-10× smaller than AdamW's
    and a weight decay 3-10× larger (the paper's advice). PyTorch has no Lion; this follows the paper's
    Algorithm 2 exactly (sign(0) = 0).

    Args: params, lr=1e-4, betas=(0.9, 0.99), weight_decay=0.
    """

    def __init__(self, params, lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0):
        super().__init__(params, dict(lr=lr, betas=betas, weight_decay=weight_decay))

    def _check(self, group):
        check_nonneg("lr", group["lr"])
        check_nonneg("weight_decay", group["weight_decay"])
        group["betas"] = check_betas(group["betas"])

    def _chain(self, group):
        return [scale_by_lion(), add_decayed_weights(), scale_by_learning_rate()]
