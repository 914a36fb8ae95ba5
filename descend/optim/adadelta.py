"""Adadelta: a learning rate from the ratio of running averages of squared updates and squared gradients."""

from __future__ import annotations

from .optimizer import DEFAULT_CHUNK, DEFAULT_FLUSH_EVERY, Optimizer
from .rules import add_decayed_weights, scale_by_adadelta, scale_by_learning_rate


class Adadelta(Optimizer):
    """Adadelta (Zeiler 2012, "ADADELTA: An Adaptive Learning Rate Method"), as ``torch.optim.Adadelta``:
    g ← ∇θ + λθ;  v ← ρv + (1 − ρ)g²;  δ = √(Δ + ε)/√(v + ε) · g;  Δ ← ρΔ + (1 − ρ)δ²;  θ ← θ − ηδ.

    The paper has no η (η = 1, the default); PyTorch's η multiplies δ after Δ is updated, as here.
    Chain: add_decayed_weights → scale_by_adadelta → scale_by_learning_rate. State ``square_avg``, ``acc_delta``.

    Args (PyTorch's order): params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0; keyword-only
    ``flush_subnormals_every``, ``chunk_size`` (see :mod:`descend.optim.optimizer`).
    """

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, *,
                 flush_subnormals_every=DEFAULT_FLUSH_EVERY, chunk_size=DEFAULT_CHUNK):
        super().__init__(params, [add_decayed_weights(weight_decay), scale_by_adadelta(rho, eps),
                                  scale_by_learning_rate(lr)],
                         defaults=dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay),
                         flush_subnormals_every=flush_subnormals_every, chunk_size=chunk_size)
