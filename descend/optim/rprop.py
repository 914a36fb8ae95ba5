"""Rprop: resilient backpropagation, per-element step sizes adapted from the signs of the gradient."""

from __future__ import annotations

from .optimizer import DEFAULT_CHUNK, DEFAULT_FLUSH_EVERY, Optimizer
from .rules import scale_by_rprop


class Rprop(Optimizer):
    """Rprop (Riedmiller & Braun 1993, "A Direct Adaptive Method for Faster Backpropagation Learning: The
    RPROP Algorithm"), as ``torch.optim.Rprop``: per element, with s = sign(gₜ · gₜ₋₁),
    Δ ← clip(Δ · (η₊ if s > 0; η₋ if s < 0; 1 if s = 0), Δ_min, Δ_max);  gₜ ← 0 where s < 0;
    θ ← θ − sign(gₜ) · Δ;  Δ starts at ``lr``.

    Only the gradient's sign is used, so it is meant for full-batch training. PyTorch's variant (Rprop⁻
    without weight backtracking). Chain: scale_by_rprop. State ``prev``, ``step_size``.

    Args (PyTorch's order): params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50); keyword-only
    ``flush_subnormals_every``, ``chunk_size``.
    """

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *,
                 flush_subnormals_every=DEFAULT_FLUSH_EVERY, chunk_size=DEFAULT_CHUNK):
        super().__init__(params, [scale_by_rprop(lr, etas, step_sizes)],
                         defaults=dict(lr=lr, etas=etas, step_sizes=step_sizes),
                         flush_subnormals_every=flush_subnormals_every, chunk_size=chunk_size)
