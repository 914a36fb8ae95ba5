"""Devices: descend computes on the CPU (NumPy), and says so in PyTorch's words.

``descend.device("cpu")`` is PyTorch's ``torch.device``: ``.type``, ``.index``, ``str`` / ``repr`` / ``==``
as PyTorch's. Any device type PyTorch knows can be *named* (``device("cuda")`` is how tutorials pick one),
but moving a tensor or a model to anything other than the CPU raises :class:`DeviceUnavailableError`.
:func:`to_arguments` reads the arguments of ``Tensor.to`` / ``Module.to`` for both.
"""

from __future__ import annotations

import numpy as np

#: Device types PyTorch accepts in a device string.
KNOWN_TYPES = ("cpu", "cuda", "mps", "xpu", "meta", "hip", "hpu", "mtia", "xla", "vulkan", "ipu", "privateuseone")


class DeviceUnavailableError(RuntimeError):
    """A tensor or model was sent to a device descend cannot compute on (anything but the CPU)."""


class device:
    """A device name: ``device("cpu")``, ``device("cuda:1")``, ``device("cpu", 0)``, or another device."""

    __slots__ = ("_type", "_index")

    def __init__(self, type, index=None):
        if isinstance(type, device):
            type, index = type.type, type.index if index is None else index
        elif isinstance(type, (int, np.integer)) and not isinstance(type, bool):
            raise DeviceUnavailableError(f"device({type}) names accelerator {type}, but descend has no accelerator "
                                         "(CPU only); use 'cpu' (see docs/from-pytorch.md)")
        if not isinstance(type, str):
            raise TypeError(f"device() takes a device string such as 'cpu' or 'cuda:0', got {type!r}")
        name, sep, ordinal = type.partition(":")
        if name not in KNOWN_TYPES:
            raise ValueError(f"unknown device type {name!r} in {type!r}; expected one of {', '.join(KNOWN_TYPES)}")
        if sep:
            if index is not None:
                raise ValueError(f"device {type!r} already names an index; do not pass index={index!r} too")
            if not ordinal.isdigit():
                raise ValueError(f"invalid device string {type!r}: the index after ':' must be a number")
            index = int(ordinal)
        if index is not None and (not isinstance(index, (int, np.integer)) or isinstance(index, bool) or index < 0):
            raise ValueError(f"device index must be a non-negative integer, got {index!r}")
        self._type = name
        self._index = None if index is None else int(index)

    @property
    def type(self) -> str:
        return self._type

    @property
    def index(self):
        return self._index

    def __str__(self):
        return self._type if self._index is None else f"{self._type}:{self._index}"

    def __repr__(self):
        if self._index is None:
            return f"device(type={self._type!r})"
        return f"device(type={self._type!r}, index={self._index})"

    def __eq__(self, other):
        if not isinstance(other, device):
            return NotImplemented
        return self._type == other._type and self._index == other._index

    def __hash__(self):
        return hash((self._type, self._index))

    def __reduce__(self):
        return device, (self._type, self._index)


#: The device of every tensor.
CPU = device("cpu")


def check_device(dev) -> device:
    """``dev`` as a :class:`device`; raises :class:`DeviceUnavailableError` unless it is the CPU."""
    dev = dev if isinstance(dev, device) else device(dev)
    if dev.type != "cpu":
        raise DeviceUnavailableError(
            f"device {str(dev)!r} is not available: descend computes on the CPU only (NumPy); use 'cpu' "
            "(descend.cuda.is_available() is False; see docs/from-pytorch.md)")
    return dev


def set_default_device(device) -> None:
    """PyTorch's ``torch.set_default_device``: ``None`` or the CPU (``'cpu'``, ``device('cpu')``) is accepted
    and changes nothing, since every descend tensor is on the CPU; any other device raises
    :class:`DeviceUnavailableError`."""
    if device is not None:
        check_device(device)


def get_default_device() -> device:
    """The device new tensors are made on: always ``device('cpu')``."""
    return CPU


def _is_device_like(arg) -> bool:
    if isinstance(arg, device):
        return True
    if isinstance(arg, str):
        return arg.partition(":")[0] in KNOWN_TYPES
    return isinstance(arg, (int, np.integer)) and not isinstance(arg, bool)


def to_arguments(args, kwargs):
    """``(device, dtype, copy)`` from the arguments of ``.to(...)``, as PyTorch reads them.

    Accepted: ``to(device)``, ``to(dtype)``, ``to(device, dtype)``, ``to(tensor)`` (its dtype) and the
    keywords ``device=``, ``dtype=``, ``copy=``, ``non_blocking=`` (ignored) and ``memory_format=`` (ignored).
    The device is checked (CPU only); either part is ``None`` when not given.
    """
    from .dtypes import to_dtype
    unknown = set(kwargs) - {"device", "dtype", "copy", "non_blocking", "memory_format"}
    if unknown:
        raise TypeError(f"to() got unexpected keyword argument(s) {sorted(unknown)}")
    dev, dtype = kwargs.get("device"), kwargs.get("dtype")
    args = list(args)
    if len(args) > 3:
        raise TypeError(f"to() takes at most (device, dtype, non_blocking), got {len(args)} arguments")
    if args and not isinstance(args[0], (type, np.dtype, str, device)) and hasattr(args[0], "dtype") \
            and hasattr(args[0], "device"):
        other = args.pop(0)  # to(other_tensor): its dtype and device
        dev, dtype = other.device, other.dtype
    elif args and args[0] is not None and _is_device_like(args[0]):
        dev = args.pop(0)
    if args and not isinstance(args[0], bool) and args[0] is not None:
        dtype = args.pop(0)
    if args and not isinstance(args[0], bool):
        raise TypeError(f"to() could not read {args[0]!r} as a device or a dtype")
    if dev is not None:
        dev = check_device(dev)
    return dev, (None if dtype is None else to_dtype(dtype)), bool(kwargs.get("copy", False))
