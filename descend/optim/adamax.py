"""Adamax: Adam with the infinity norm in place of the second moment."""

from __future__ import annotations

from .optimizer import DEFAULT_CHUNK, DEFAULT_FLUSH_EVERY, Optimizer
from .rules import add_decayed_weights, scale_by_adamax, scale_by_learning_rate


class Adamax(Optimizer):
    """Adamax (Kingma & Ba 2015, "Adam: A Method for Stochastic Optimization", section 7.1), as
    ``torch.optim.Adamax``: g ← ∇θ + λθ;  m ← β₁m + (1 − β₁)g;  w ← max(β₂w, |g| + ε);
    θ ← θ − (η / (1 − β₁ᵗ)) · m / w.

    ε inside the max is PyTorch's (the paper has none). Chain: add_decayed_weights → scale_by_adamax →
    scale_by_learning_rate. State ``exp_avg``, ``exp_inf``.

    Args (PyTorch's order): params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0; keyword-only
    ``flush_subnormals_every``, ``chunk_size``.
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, *,
                 flush_subnormals_every=DEFAULT_FLUSH_EVERY, chunk_size=DEFAULT_CHUNK):
        super().__init__(params, [add_decayed_weights(weight_decay), scale_by_adamax(betas, eps),
                                  scale_by_learning_rate(lr)],
                         defaults=dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay),
                         flush_subnormals_every=flush_subnormals_every, chunk_size=chunk_size)
