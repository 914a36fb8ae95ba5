"""ASGD: stochastic gradient descent with a decaying step and a running (Polyak) average of the iterates."""

from __future__ import annotations

from .optimizer import DEFAULT_CHUNK, DEFAULT_FLUSH_EVERY, Optimizer
from .rules import add_decayed_weights, scale_by_asgd


class ASGD(Optimizer):
    """Averaged SGD (Polyak & Juditsky 1992, "Acceleration of Stochastic Approximation by Averaging"; the
    rates of Bottou 2012), as ``torch.optim.ASGD``: g ← ∇θ + λ_wd θ;  θ ← θ(1 − λη) − ηg;
    a ← a + μ(θ − a);  then η ← η₀ / (1 + λη₀t)^α and μ ← 1 / max(1, t − t₀), with η₀ = ``lr``.

    The parameters are the SGD iterate; the average a (``state[p]['ax']``) is the estimate averaging
    gives, from step t₀ on (before, μ = 1 and a = θ). Chain: add_decayed_weights → scale_by_asgd. State
    ``ax``, ``eta``, ``mu``. A scheduler writing ``lr`` changes η₀ of the following steps' rates, as in PyTorch.

    Args (PyTorch's order): params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0; keyword-only
    ``flush_subnormals_every``, ``chunk_size``.
    """

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0.0, *,
                 flush_subnormals_every=DEFAULT_FLUSH_EVERY, chunk_size=DEFAULT_CHUNK):
        super().__init__(params, [add_decayed_weights(weight_decay), scale_by_asgd(lr, lambd, alpha, t0)],
                         defaults=dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay),
                         flush_subnormals_every=flush_subnormals_every, chunk_size=chunk_size)
