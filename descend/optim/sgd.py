"""Stochastic gradient descent, with momentum, dampening, Nesterov momentum and coupled weight decay."""

from __future__ import annotations

from .optimizer import DEFAULT_CHUNK, DEFAULT_FLUSH_EVERY, Optimizer
from .rules import add_decayed_weights, scale_by_learning_rate, trace


class SGD(Optimizer):
    """Gradient descent:  g ← ∇θ + λθ;  b ← μb + (1 − τ)g (b = g at the first step);
    g ← g + μb (Nesterov) or g ← b;  θ ← θ − ηg.

    Full-batch gradient descent, mini-batch gradient descent and per-sample (online) SGD are this same
    rule; they differ only in the batch the gradient was computed on (all samples, a mini-batch, one sample).
    Momentum is Polyak's heavy ball written as in Sutskever et al. 2013 (the learning rate multiplies the
    buffer, not the gradient inside it, as PyTorch does); ``nesterov=True`` uses their Nesterov form.

    Chain: add_decayed_weights → trace → scale_by_learning_rate.

    Args (PyTorch's order): params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False;
    keyword-only ``flush_subnormals_every``, ``chunk_size`` (see :mod:`descend.optim.optimizer`).
    """

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, *,
                 flush_subnormals_every=DEFAULT_FLUSH_EVERY, chunk_size=DEFAULT_CHUNK):
        super().__init__(params, [add_decayed_weights(weight_decay), trace(momentum, dampening, nesterov),
                                  scale_by_learning_rate(lr)],
                         defaults=dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                       nesterov=nesterov),
                         flush_subnormals_every=flush_subnormals_every, chunk_size=chunk_size)
