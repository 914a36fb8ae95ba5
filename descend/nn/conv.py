"""2-D convolution layer over NCHW images (the op is :func:`descend.ops.conv.conv2d`, an im2col GEMM).

Weight (out_channels, in_channels, kh, kw) and bias (out_channels,) as in PyTorch. Default
initialisation (PyTorch's): W ~ kaiming_uniform(a=√5) = U(±1/√fan_in), b ~ U(±1/√fan_in), with
fan_in = in_channels·kh·kw.
"""

from __future__ import annotations


from .. import backend
from ..ops.conv import conv2d, conv2d_relu, pair
from . import init
from .activation import ReLU
from .linear import _positive_int
from .module import Module, Parameter

__all__ = ["Conv2d"]


class Conv2d(Module):
    """``Conv2d(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True)``.

    ``kernel_size``, ``stride``, ``padding`` and ``dilation`` are ints or (h, w) pairs; ``padding`` may also
    be ``'valid'`` (0) or ``'same'`` (stride 1 and an odd effective kernel: output size = input size).
    Only ``groups=1`` and ``padding_mode='zeros'`` are supported.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", dtype=None, generator=None):
        super().__init__()
        self.in_channels = _positive_int(in_channels, "in_channels", "Conv2d")
        self.out_channels = _positive_int(out_channels, "out_channels", "Conv2d")
        if groups != 1:
            raise NotImplementedError(f"Conv2d: groups={groups} is not supported; only groups=1")
        if padding_mode != "zeros":
            raise NotImplementedError(f"Conv2d: padding_mode={padding_mode!r} is not supported; only 'zeros'")
        self.kernel_size = pair(kernel_size, "kernel_size", 1)
        self.stride = pair(stride, "stride", 1)
        self.dilation = pair(dilation, "dilation", 1)
        self.groups = 1
        if padding == "valid":
            padding = 0
        elif padding == "same":
            if self.stride != (1, 1):
                raise ValueError(f"Conv2d: padding='same' needs stride 1, got stride={stride!r}")
            total = [d * (k - 1) for d, k in zip(self.dilation, self.kernel_size)]
            if any(t % 2 for t in total):
                raise NotImplementedError(f"Conv2d: padding='same' with an even effective kernel {self.kernel_size} "
                                          "needs asymmetric padding, which is not supported; use an odd kernel")
            padding = (total[0] // 2, total[1] // 2)
        self.padding = pair(padding, "padding", 0)
        self.weight = Parameter(backend.empty((out_channels, in_channels) + self.kernel_size, dtype), dtype=dtype)
        if bias:
            self.bias = Parameter(backend.empty((out_channels,), dtype), dtype=dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters(generator)

    def reset_parameters(self, generator=None) -> None:
        """PyTorch's default: kaiming_uniform_(W, a=√5) = U(±1/√fan_in); bias U(±1/√fan_in)."""
        init.default_layer_init_(self.weight, self.bias, generator)

    def forward(self, x):
        return conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation)

    def fuse_next(self, module):
        """For a :class:`ReLU` (exactly that class) directly after this layer, ``x ↦ conv2d_relu(x, ...)``:
        max(0, conv2d(x)) as one node, the values of ``module(self(x))`` bit for bit; None for any other
        module, or when this layer's class overrides ``forward`` (the fusion seam, :mod:`descend.nn.fusion`)."""
        if type(module) is not ReLU or type(self).forward is not Conv2d.forward:
            return None
        return lambda x: conv2d_relu(x, self.weight, self.bias, self.stride, self.padding, self.dilation)

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.bias is None:
            s += ", bias=False"
        return s
