"""Lion: the sign of an interpolated momentum, with decoupled weight decay."""

from __future__ import annotations

from .optimizer import DEFAULT_CHUNK, DEFAULT_FLUSH_EVERY, Optimizer
from .rules import add_decayed_weights, scale_by_learning_rate, scale_by_lion


class Lion(Optimizer):
    """Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms"):
    c ← β₁m + (1 − β₁)g;  θ ← θ − η(sign(c) + λθ);  m ← β₂m + (1 − β₂)g.

    Every coordinate moves by exactly ±η (plus decay), so use a learning rate 3-10× smaller than AdamW's
    and a weight decay 3-10× larger (the paper's advice). PyTorch has no Lion; this follows the paper's
    Algorithm 2 exactly (sign(0) = 0). Chain: scale_by_lion → add_decayed_weights → scale_by_learning_rate.

    Args: params, lr=1e-4, betas=(0.9, 0.99), weight_decay=0; keyword-only ``flush_subnormals_every``,
    ``chunk_size`` (see :mod:`descend.optim.optimizer`).
    """

    def __init__(self, params, lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0, *,
                 flush_subnormals_every=DEFAULT_FLUSH_EVERY, chunk_size=DEFAULT_CHUNK):
        super().__init__(params, [scale_by_lion(betas), add_decayed_weights(weight_decay), scale_by_learning_rate(lr)],
                         defaults=dict(lr=lr, betas=betas, weight_decay=weight_decay),
                         flush_subnormals_every=flush_subnormals_every, chunk_size=chunk_size)
