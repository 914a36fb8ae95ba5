"""NAdam: Adam with Nesterov momentum."""

from __future__ import annotations

from .optimizer import Optimizer, check_betas, check_nonneg
from .rules import add_decayed_weights, scale_by_learning_rate, scale_by_nadam


class NAdam(Optimizer):
    """NAdam (Dozat 2016, "Incorporating Nesterov Momentum into Adam"), as ``torch.optim.NAdam``:
    μₜ = β₁(1 − ½·0.96^(t·ψ)) with ψ = momentum_decay;  g ← ∇θ + λθ;  m, v as Adam;
    θ ← θ − η[(1 − μₜ)/(1 − Πᵢ≤ₜ μᵢ) · g + μₜ₊₁/(1 − Πᵢ≤ₜ₊₁ μᵢ) · m] / (√(v / (1 − β₂ᵗ)) + ε).

    ``decoupled_weight_decay=True`` decays the weights directly (θ ← θ − ηλθ, as AdamW) instead of adding
    λθ to the gradient. The momentum schedule μₜ is the paper's; ε placement follows PyTorch.

    Args (PyTorch's order): params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
    momentum_decay=4e-3, decoupled_weight_decay=False.
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, momentum_decay=4e-3,
                 decoupled_weight_decay=False):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      momentum_decay=momentum_decay, decoupled_weight_decay=decoupled_weight_decay))

    def _check(self, group):
        for name in ("lr", "eps", "weight_decay", "momentum_decay"):
            check_nonneg(name, group[name])
        group["betas"] = check_betas(group["betas"])

    def _chain(self, group):
        if group["decoupled_weight_decay"]:
            return [scale_by_nadam(), add_decayed_weights(), scale_by_learning_rate()]
        return [add_decayed_weights(), scale_by_nadam(), scale_by_learning_rate()]
