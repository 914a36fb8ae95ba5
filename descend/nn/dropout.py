"""Dropout layers (inverted dropout; see :mod:`descend.ops.dropout`): active in training mode only."""

from __future__ import annotations

from ..ops.dropout import check_probability, dropout, dropout2d
from .module import Module

__all__ = ["Dropout", "Dropout2d"]


class Dropout(Module):
    """``Dropout(p=0.5)``: in training zero each element with probability p and scale the kept ones by
    1/(1 − p); the identity in eval mode. Masks come from the default generator (``descend.manual_seed``)
    unless ``generator`` is given."""

    def __init__(self, p: float = 0.5, inplace: bool = False, generator=None):
        super().__init__()
        self.p = check_probability(p, type(self).__name__)
        self.generator = generator

    def forward(self, x):
        return dropout(x, self.p, self.training, self.generator)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Dropout2d(Dropout):
    """``Dropout2d(p=0.5)``: zero whole channels (feature maps) of (N, C, H, W) inputs with probability p,
    scaling the kept ones by 1/(1 − p); the identity in eval mode."""

    def forward(self, x):
        return dropout2d(x, self.p, self.training, self.generator)
