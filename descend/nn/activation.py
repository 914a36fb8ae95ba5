"""Activation functions as modules (the formulas and derivatives are in :mod:`descend.ops.activation`)."""

from __future__ import annotations

from ..ops import activation as A
from ..ops.reduction import log_softmax, softmax
from .module import Module

__all__ = ["ReLU", "LeakyReLU", "ELU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "GELU", "SiLU", "Swish"]


class ReLU(Module):
    """max(0, x). (``inplace`` is accepted for PyTorch compatibility and ignored.)"""

    def __init__(self, inplace: bool = False):
        super().__init__()

    def forward(self, x):
        return A.relu(x)


class LeakyReLU(Module):
    """x for x > 0, else negative_slope·x."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        super().__init__()
        self.negative_slope = float(negative_slope)

    def forward(self, x):
        return A.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class ELU(Module):
    """x for x > 0, else α(eˣ − 1)."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha = float(alpha)

    def forward(self, x):
        return A.elu(x, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class Sigmoid(Module):
    """1 / (1 + e⁻ˣ)."""

    def forward(self, x):
        return A.sigmoid(x)


class Tanh(Module):
    """tanh x."""

    def forward(self, x):
        return A.tanh(x)


class Softmax(Module):
    """exp(xᵢ) / Σⱼ exp(xⱼ) along ``dim`` (default −1, the last)."""

    def __init__(self, dim: int = -1):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return softmax(x, dim=self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    """xᵢ − log Σⱼ exp(xⱼ) along ``dim`` (default −1)."""

    def forward(self, x):
        return log_softmax(x, dim=self.dim)


class GELU(Module):
    """x Φ(x); ``approximate='tanh'`` for the tanh approximation."""

    def __init__(self, approximate: str = "none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x):
        return A.gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class SiLU(Module):
    """x σ(x) (also called Swish)."""

    def __init__(self, inplace: bool = False):
        super().__init__()

    def forward(self, x):
        return A.silu(x)


Swish = SiLU
