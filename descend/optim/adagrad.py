"""Adagrad: per-coordinate learning rates from the accumulated squared gradients."""

from __future__ import annotations

from .optimizer import DEFAULT_CHUNK, DEFAULT_FLUSH_EVERY, Optimizer
from .rules import add_decayed_weights, scale_by_learning_rate, scale_by_rss


class Adagrad(Optimizer):
    """Adagrad (Duchi, Hazan & Singer 2011):  g ← ∇θ + λθ;  G ← G + g²;
    θ ← θ − η / (1 + (t − 1)·lr_decay) · g / (√G + ε).

    G starts at ``initial_accumulator_value``. The lr_decay factor is PyTorch's addition, not the paper's.
    Chain: add_decayed_weights → scale_by_rss → scale_by_learning_rate (with lr_decay).

    Args (PyTorch's order): params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
    eps=1e-10; keyword-only ``flush_subnormals_every``, ``chunk_size`` (see :mod:`descend.optim.optimizer`).
    """

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10, *,
                 flush_subnormals_every=DEFAULT_FLUSH_EVERY, chunk_size=DEFAULT_CHUNK):
        super().__init__(params, [add_decayed_weights(weight_decay), scale_by_rss(initial_accumulator_value, eps),
                                  scale_by_learning_rate(lr, lr_decay)],
                         defaults=dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                       initial_accumulator_value=initial_accumulator_value, eps=eps),
                         flush_subnormals_every=flush_subnormals_every, chunk_size=chunk_size)
