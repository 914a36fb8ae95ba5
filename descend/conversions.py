"""Tensor methods for dtypes, devices and new tensors like an existing one, with PyTorch's names:
``to(device, dtype)``, ``cpu()``, ``cuda()`` (raises: CPU only), ``device``, ``type()``, ``float()`` ...
``bool()``, ``element_size()``, ``new_zeros`` / ``new_ones`` / ``new_full`` / ``new_empty`` / ``new_tensor``.

:class:`ConversionMethods` is a base class of :class:`~descend.tensor.Tensor` (no state of its own).
"""

from __future__ import annotations

import numpy as np

from .device import CPU, check_device, to_arguments
from .dtypes import to_dtype, type_name


class ConversionMethods:
    """The dtype, device and ``new_*`` methods of a Tensor (which provides ``data``, ``astype``, ``clone``)."""

    __slots__ = ()

    def to(self, *args, **kwargs) -> "Tensor":
        """PyTorch's ``to``: ``to(dtype)``, ``to(device)``, ``to(device, dtype)``, ``to(other)``, ``copy=``.

        Returns this tensor itself when nothing changes; a device other than the CPU raises
        :class:`~descend.device.DeviceUnavailableError`. A cast stays in the graph.
        """
        _, dtype, copy = to_arguments(args, kwargs)
        out = self if dtype is None else self.astype(dtype)
        return out.clone() if copy and out is self else out

    def cpu(self) -> "Tensor":
        """This tensor (it is on the CPU already)."""
        return self

    def cuda(self, device=None, non_blocking: bool = False) -> "Tensor":
        """Raises :class:`~descend.device.DeviceUnavailableError`: descend has no GPU."""
        check_device("cuda" if device is None else device)
        return self

    @property
    def device(self):
        """``device(type='cpu')``: every tensor lives in NumPy memory."""
        return CPU

    @property
    def is_cuda(self) -> bool:
        return False

    def type(self, dtype=None, non_blocking: bool = False):
        """With no argument: the tensor-type name (``'torch.FloatTensor'``); with a dtype: a cast to it."""
        if dtype is None:
            return type_name(self.array.dtype)
        return self.astype(to_dtype(dtype))

    def element_size(self) -> int:
        """Bytes per element."""
        return self.array.itemsize

    def is_floating_point(self) -> bool:
        return self.array.dtype.kind == "f"

    def float(self) -> "Tensor":
        return self.astype(np.float32)

    def double(self) -> "Tensor":
        return self.astype(np.float64)

    def half(self) -> "Tensor":
        return self.astype(np.float16)

    def long(self) -> "Tensor":
        return self.astype(np.int64)

    def int(self) -> "Tensor":
        return self.astype(np.int32)

    def short(self) -> "Tensor":
        return self.astype(np.int16)

    def byte(self) -> "Tensor":
        return self.astype(np.uint8)

    def bool(self) -> "Tensor":
        return self.astype(np.bool_)

    # ---------------------------------------------------------------- new tensors like this one
    def _new(self, array, requires_grad):
        from .tensor import Tensor  # a plain Tensor, also for a Parameter's new_zeros
        return Tensor.from_array(array).requires_grad_(requires_grad)

    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False) -> "Tensor":
        """Zeros of ``size`` with this tensor's dtype (unless ``dtype``), outside the graph."""
        return self._new_filled(size, 0, dtype, device, requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False) -> "Tensor":
        return self._new_filled(size, 1, dtype, device, requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad=False) -> "Tensor":
        return self._new_filled(size, 0, dtype, device, requires_grad)

    def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False) -> "Tensor":
        return self._new_filled((size,), fill_value, dtype, device, requires_grad)

    def _new_filled(self, size, value, dtype, device, requires_grad):
        if device is not None:
            check_device(device)
        dtype = self.array.dtype if dtype is None else to_dtype(dtype)
        from .tensor import sizes
        return self._new(np.full(sizes(size), value, dtype=dtype), requires_grad)

    def new_tensor(self, data, *, dtype=None, device=None, requires_grad=False) -> "Tensor":
        """A copy of ``data`` with this tensor's dtype (unless ``dtype``), outside the graph."""
        if device is not None:
            check_device(device)
        dtype = self.array.dtype if dtype is None else to_dtype(dtype)
        data = data.array if isinstance(data, ConversionMethods) else data
        return self._new(np.array(data, dtype=dtype, copy=True), requires_grad)
