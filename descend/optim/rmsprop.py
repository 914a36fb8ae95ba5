"""RMSprop: divide the gradient by a running root-mean-square of its recent magnitudes."""

from __future__ import annotations

from .optimizer import DEFAULT_CHUNK, DEFAULT_FLUSH_EVERY, Optimizer
from .rules import add_decayed_weights, scale_by_learning_rate, scale_by_rms, trace


class RMSprop(Optimizer):
    """RMSprop (Hinton, Coursera lecture 6e, 2012):  g ← ∇θ + λθ;  v ← αv + (1 − α)g²;
    u ← g / (√v + ε)  (centered, Graves 2013: ḡ ← αḡ + (1 − α)g, u ← g / (√(v − ḡ²) + ε));
    with momentum μ > 0:  b ← μb + u, u ← b;  θ ← θ − ηu.

    ε is added outside the square root, as PyTorch does (the lecture puts it inside).
    Chain: add_decayed_weights → scale_by_rms → trace → scale_by_learning_rate.

    Args (PyTorch's order): params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False;
    keyword-only ``flush_subnormals_every``, ``chunk_size`` (see :mod:`descend.optim.optimizer`).
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False, *,
                 flush_subnormals_every=DEFAULT_FLUSH_EVERY, chunk_size=DEFAULT_CHUNK):
        super().__init__(params, [add_decayed_weights(weight_decay), scale_by_rms(alpha, eps, centered),
                                  trace(momentum), scale_by_learning_rate(lr)],
                         defaults=dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                       centered=centered),
                         flush_subnormals_every=flush_subnormals_every, chunk_size=chunk_size)
