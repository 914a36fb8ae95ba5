"""Fully connected layer: y = x Wᵀ + b, with W of shape (out_features, in_features) as in PyTorch.

Default initialisation (PyTorch's): W ~ kaiming_uniform(a=√5), i.e. U(±1/√in_features), and
b ~ U(±1/√in_features).
"""

from __future__ import annotations


from .. import backend
from ..ops.linalg import linear, linear_relu
from . import init
from .activation import ReLU
from .module import Module, Parameter

__all__ = ["Linear"]


def _positive_int(value, name, owner):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{owner}: {name} must be a positive int, got {value!r}")
    return value


class Linear(Module):
    """``Linear(in_features, out_features, bias=True)``: y = x Wᵀ + b over the last dimension of x.

    Parameters ``weight`` (out_features, in_features) and ``bias`` (out_features,), initialised as in
    PyTorch (U(±1/√in_features) for both). ``dtype='float64'`` builds float64 parameters. The weight is
    laid out in memory as its transpose (Fortran order); values, shape and state dicts are PyTorch's.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype=None, generator=None):
        super().__init__()
        self.in_features = _positive_int(in_features, "in_features", "Linear")
        self.out_features = _positive_int(out_features, "out_features", "Linear")
        # stored as the transpose of an (in, out) array: x Wᵀ then reads Wᵀ contiguously and dL/dW = (xᵀ g)ᵀ
        # comes out in the weight's own layout (both faster with NumPy's BLAS); the shape is PyTorch's
        self.weight = Parameter(backend.empty((in_features, out_features), dtype).T, dtype=dtype)
        if bias:
            self.bias = Parameter(backend.empty((out_features,), dtype), dtype=dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters(generator)

    def reset_parameters(self, generator=None) -> None:
        """PyTorch's default: kaiming_uniform_(W, a=√5) = U(±1/√fan_in); bias U(±1/√fan_in)."""
        init.default_layer_init_(self.weight, self.bias, generator)

    def forward(self, x):
        return linear(x, self.weight, self.bias)

    def fuse_next(self, module):
        """For a :class:`ReLU` (exactly that class) directly after this layer, ``x ↦ linear_relu(x, W, b)``:
        max(0, x Wᵀ + b) as one node, the values of ``module(self(x))`` bit for bit; None for any other
        module, or when this layer's class overrides ``forward`` (the fusion seam, :mod:`descend.nn.fusion`)."""
        if type(module) is not ReLU or type(self).forward is not Linear.forward:
            return None
        return lambda x: linear_relu(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"
