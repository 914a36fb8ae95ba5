"""Pooling layers over NCHW images: MaxPool2d, AvgPool2d, AdaptiveAvgPool2d (no parameters).

See :mod:`descend.ops.pooling` for the formulas. The stride defaults to the kernel size.
"""

from __future__ import annotations

from ..ops.pooling import adaptive_avg_pool2d, avg_pool2d, max_pool2d
from .module import Module

__all__ = ["MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d"]


def _unsupported(owner, **flags):
    for name, (value, default) in flags.items():
        if value != default:
            raise NotImplementedError(f"{owner}: {name}={value!r} is not supported; only {name}={default!r}")


class MaxPool2d(Module):
    """``MaxPool2d(kernel_size, stride=None, padding=0)``: max over each window (padding with −∞).
    Gradient goes to the first maximum of each window, as in PyTorch."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__()
        _unsupported("MaxPool2d", dilation=(dilation, 1), return_indices=(return_indices, False),
                     ceil_mode=(ceil_mode, False))
        self.kernel_size, self.stride, self.padding = kernel_size, kernel_size if stride is None else stride, padding

    def forward(self, x):
        return max_pool2d(x, self.kernel_size, self.stride, self.padding)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(Module):
    """``AvgPool2d(kernel_size, stride=None, padding=0, count_include_pad=True)``: mean over each window;
    padded zeros count in the mean unless ``count_include_pad=False``."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        super().__init__()
        _unsupported("AvgPool2d", ceil_mode=(ceil_mode, False))
        self.kernel_size, self.stride, self.padding = kernel_size, kernel_size if stride is None else stride, padding
        self.count_include_pad = bool(count_include_pad)

    def forward(self, x):
        return avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.count_include_pad)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(Module):
    """``AdaptiveAvgPool2d(output_size)``: average into a fixed (Hₒ, Wₒ) grid of bins, PyTorch's bin edges;
    ``AdaptiveAvgPool2d(1)`` is global average pooling."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, x):
        return adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"
