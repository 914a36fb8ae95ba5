"""NAdam: Adam with Nesterov momentum."""

from __future__ import annotations

from .optimizer import DEFAULT_CHUNK, DEFAULT_FLUSH_EVERY, Optimizer
from .rules import add_decayed_weights, scale_by_learning_rate, scale_by_nadam


class NAdam(Optimizer):
    """NAdam (Dozat 2016, "Incorporating Nesterov Momentum into Adam"), as ``torch.optim.NAdam``:
    μₜ = β₁(1 − ½·0.96^(t·ψ)) with ψ = momentum_decay;  g ← ∇θ + λθ;  m, v as Adam;
    θ ← θ − η[(1 − μₜ)/(1 − Πᵢ≤ₜ μᵢ) · g + μₜ₊₁/(1 − Πᵢ≤ₜ₊₁ μᵢ) · m] / (√(v / (1 − β₂ᵗ)) + ε).

    ``decoupled_weight_decay=True`` decays the weights directly (θ ← θ − ηλθ, as AdamW) instead of adding
    λθ to the gradient. The momentum schedule μₜ is the paper's; ε placement follows PyTorch.
    Chain: add_decayed_weights → scale_by_nadam → scale_by_learning_rate (the decay after scale_by_nadam
    in a group with ``decoupled_weight_decay``).

    Args (PyTorch's order): params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
    momentum_decay=4e-3, decoupled_weight_decay=False; keyword-only ``flush_subnormals_every``, ``chunk_size``.
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, *, flush_subnormals_every=DEFAULT_FLUSH_EVERY, chunk_size=DEFAULT_CHUNK):
        super().__init__(params, [add_decayed_weights(weight_decay), scale_by_nadam(betas, eps, momentum_decay),
                                  scale_by_learning_rate(lr)],
                         defaults=dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                       momentum_decay=momentum_decay, decoupled_weight_decay=decoupled_weight_decay),
                         flush_subnormals_every=flush_subnormals_every, chunk_size=chunk_size)

    def _chain(self, group):
        decay, nadam, lr = super()._chain(group)
        return [nadam, decay, lr] if group["decoupled_weight_decay"] else [decay, nadam, lr]
