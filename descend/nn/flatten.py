"""Shape layers: ``Flatten`` and ``Identity``."""

from __future__ import annotations

from ..ops.shape import flatten
from .module import Module

__all__ = ["Flatten", "Identity"]


class Flatten(Module):
    """``Flatten(start_dim=1, end_dim=-1)``: merge dimensions start_dim … end_dim, e.g. (N, C, H, W) → (N, C·H·W)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Identity(Module):
    """Returns its input unchanged (extra arguments are accepted and ignored, as in PyTorch)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x
