"""RAdam: Adam with the variance of its adaptive learning rate rectified."""

from __future__ import annotations

from .optimizer import DEFAULT_CHUNK, DEFAULT_FLUSH_EVERY, Optimizer
from .rules import add_decayed_weights, scale_by_learning_rate, scale_by_radam


class RAdam(Optimizer):
    """RAdam (Liu et al. 2020, "On the Variance of the Adaptive Learning Rate and Beyond"), as
    ``torch.optim.RAdam``: g ← ∇θ + λθ;  m, v as Adam;  ρ∞ = 2/(1 − β₂) − 1;  ρₜ = ρ∞ − 2tβ₂ᵗ/(1 − β₂ᵗ);
    θ ← θ − η rₜ (m / (1 − β₁ᵗ)) √(1 − β₂ᵗ) / (√v + ε) when ρₜ > 5, with
    rₜ = √((ρₜ − 4)(ρₜ − 2)ρ∞ / ((ρ∞ − 4)(ρ∞ − 2)ρₜ)); else θ ← θ − η m / (1 − β₁ᵗ).

    ``decoupled_weight_decay=True`` decays the weights directly (θ ← θ − ηλθ, as AdamW). Chain:
    add_decayed_weights → scale_by_radam → scale_by_learning_rate (the decay after scale_by_radam in a group
    with ``decoupled_weight_decay``). State ``exp_avg``, ``exp_avg_sq``.

    Args (PyTorch's order): params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
    decoupled_weight_decay=False; keyword-only ``flush_subnormals_every``, ``chunk_size``.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, decoupled_weight_decay=False,
                 *, flush_subnormals_every=DEFAULT_FLUSH_EVERY, chunk_size=DEFAULT_CHUNK):
        super().__init__(params, [add_decayed_weights(weight_decay), scale_by_radam(betas, eps),
                                  scale_by_learning_rate(lr)],
                         defaults=dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                       decoupled_weight_decay=decoupled_weight_decay),
                         flush_subnormals_every=flush_subnormals_every, chunk_size=chunk_size)

    def _chain(self, group):
        decay, radam, lr = super()._chain(group)
        return [radam, decay, lr] if group["decoupled_weight_decay"] else [decay, radam, lr]
