"""Adam and AdamW: adaptive moment estimation, with coupled or decoupled weight decay."""

from __future__ import annotations

from .optimizer import DEFAULT_CHUNK, DEFAULT_FLUSH_EVERY, Optimizer
from .rules import add_decayed_weights, scale_by_adam, scale_by_learning_rate


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015, "Adam: A Method for Stochastic Optimization"):
    g ← ∇θ + λθ (coupled L2);  m ← β₁m + (1 − β₁)g;  v ← β₂v + (1 − β₂)g²;
    m̂ = m / (1 − β₁ᵗ);  v̂ = v / (1 − β₂ᵗ) (AMSGrad, Reddi et al. 2018: v̂ from max(v_max, v));
    θ ← θ − η m̂ / (√v̂ + ε).

    Chain: add_decayed_weights → scale_by_adam → scale_by_learning_rate (fused into one step while λ = 0).
    ε is added to √v̂ (as PyTorch).

    Args (PyTorch's order): params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False;
    keyword-only ``flush_subnormals_every``, ``chunk_size`` (see :mod:`descend.optim.optimizer`).
    """

    _decoupled = False  # AdamW: the decay after scale_by_adam

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False, *,
                 flush_subnormals_every=DEFAULT_FLUSH_EVERY, chunk_size=DEFAULT_CHUNK):
        chain = [add_decayed_weights(weight_decay), scale_by_adam(betas, eps, amsgrad), scale_by_learning_rate(lr)]
        if self._decoupled:
            chain = [chain[1], chain[0], chain[2]]
        super().__init__(params, chain,
                         defaults=dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad),
                         flush_subnormals_every=flush_subnormals_every, chunk_size=chunk_size)


class AdamW(Adam):
    """AdamW (Loshchilov & Hutter 2019, "Decoupled Weight Decay Regularization"): Adam on the raw gradient,
    with the decay applied to the weights directly:  θ ← θ − η(m̂ / (√v̂ + ε) + λθ).

    Chain: scale_by_adam → add_decayed_weights → scale_by_learning_rate (fused into one step while λ = 0).
    As in PyTorch the decay is multiplied by η (the paper scales it by a separate schedule multiplier).

    Args (PyTorch's order): params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False;
    keyword-only ``flush_subnormals_every``, ``chunk_size``.
    """

    _decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 flush_subnormals_every=DEFAULT_FLUSH_EVERY, chunk_size=DEFAULT_CHUNK):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, flush_subnormals_every=flush_subnormals_every,
                         chunk_size=chunk_size)
