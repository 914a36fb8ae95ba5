"""Adam and AdamW: adaptive moment estimation, with coupled or decoupled weight decay."""

from __future__ import annotations

from .optimizer import Optimizer, check_betas, check_nonneg
from .rules import add_decayed_weights, scale_by_adam, scale_by_learning_rate


def _check_adam(group):
    check_nonneg("lr", group["lr"])
    check_nonneg("eps", group["eps"])
    check_nonneg("weight_decay", group["weight_decay"])
    group["betas"] = check_betas(group["betas"])


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015, "Adam: A Method for Stochastic Optimization"):
    g ← ∇θ + λθ (coupled L2);  m ← β₁m + (1 − β₁)g;  v ← β₂v + (1 − β₂)g²;
    m̂ = m / (1 − β₁ᵗ);  v̂ = v / (1 − β₂ᵗ) (AMSGrad, Reddi et al. 2018: v̂ from max(v_max, v));
    θ ← θ − η m̂ / (√v̂ + ε).

    Chain: [add_decayed_weights] → scale_by_adam → scale_by_learning_rate. ε is added to √v̂ (as PyTorch).

    Args (PyTorch's order): params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad))

    def _check(self, group):
        _check_adam(group)

    def _chain(self, group):
        return [add_decayed_weights(), scale_by_adam(bool(group["amsgrad"]), group["betas"]), scale_by_learning_rate()]


class AdamW(Adam):
    """AdamW (Loshchilov & Hutter 2019, "Decoupled Weight Decay Regularization"): Adam on the raw gradient,
    with the decay applied to the weights directly:  θ ← θ − η(m̂ / (√v̂ + ε) + λθ).

    Chain: scale_by_adam → add_decayed_weights → scale_by_learning_rate. As in PyTorch the decay is
    multiplied by η (the paper scales it by a separate schedule multiplier).

    Args (PyTorch's order): params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)

    def _chain(self, group):
        return [scale_by_adam(bool(group["amsgrad"]), group["betas"]), add_decayed_weights(), scale_by_learning_rate()]
