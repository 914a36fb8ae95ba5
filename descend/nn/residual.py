"""Residual connection (He et al., 2016): y = x + block(x)."""

from __future__ import annotations

from .module import Module

__all__ = ["Residual"]


class Residual(Module):
    """``Residual(block)``: y = x + block(x); ``block`` must keep the input's shape.

    The block is registered as the child ``block`` (state-dict keys ``block.…``).
    """

    def __init__(self, block: Module):
        super().__init__()
        if not isinstance(block, Module):
            raise TypeError(f"Residual wraps a Module, got {type(block).__name__}")
        self.block = block

    def forward(self, x):
        fx = self.block(x)
        if tuple(fx.shape) != tuple(x.shape):
            raise ValueError(f"Residual: the block maps shape {tuple(x.shape)} to {tuple(fx.shape)}, but x + block(x) "
                             "needs them equal; keep channels/features and use padding so spatial size is preserved "
                             "(or add a projection)")
        return x + fx
