"""Shapes as PyTorch writes them: :class:`Size` (what ``x.shape`` and ``x.size()`` return),
:class:`ShapeCount` (``x.size``: NumPy's element count, callable as PyTorch's ``x.size()``) and
:func:`sizes`, the reading of PyTorch's size arguments (``randn(2, 3)`` or ``randn((2, 3))``)."""

from __future__ import annotations

import math


class Size(tuple):
    """PyTorch's ``torch.Size``: a tuple of ints (``x.shape == (2, 3)`` holds, NumPy takes it as a shape)
    with :meth:`numel`; slicing it, or adding or repeating it, gives a Size again. It prints as the tuple it
    is, ``(2, 3)`` (PyTorch prints ``torch.Size([2, 3])``), as every shape in descend's messages does.

    descend's own code reads ``x.array.shape`` (a plain tuple) where speed matters."""

    __slots__ = ()

    def __new__(cls, sizes=()):
        try:
            dims = tuple(sizes)
        except TypeError:
            raise TypeError(f"Size() takes an iterable of ints, got {type(sizes).__name__}") from None
        for i, n in enumerate(dims):
            if type(n) is not int:
                try:
                    n = n.__index__()
                except AttributeError:
                    raise TypeError(f"Size() takes an iterable of 'int' (item {i} is "
                                    f"'{type(n).__name__}')") from None
                dims = dims[:i] + (int(n),) + dims[i + 1:]
        return tuple.__new__(cls, dims)

    def numel(self) -> int:
        """The number of elements a tensor of this shape holds: the product of the sizes (1 for ``Size([])``)."""
        return math.prod(self)

    def __getitem__(self, index):
        item = tuple.__getitem__(self, index)
        return tuple.__new__(Size, item) if type(index) is slice else item

    def __add__(self, other):
        return tuple.__new__(Size, tuple.__add__(self, tuple(other)))

    def __radd__(self, other):
        return tuple.__new__(Size, tuple(other) + tuple(self))

    def __mul__(self, n):
        return tuple.__new__(Size, tuple.__mul__(self, n))

    __rmul__ = __mul__

    def __reduce__(self):
        return Size, (tuple(self),)


class ShapeCount(int):
    """Element count that is also callable: ``x.size`` (NumPy) is an int, ``x.size()`` (PyTorch) the shape
    (a :class:`Size`) and ``x.size(dim)`` one dimension's size."""

    def __new__(cls, count, shape):
        obj = super().__new__(cls, count)
        obj._shape = shape
        return obj

    def __call__(self, dim=None):
        return tuple.__new__(Size, self._shape) if dim is None else self._shape[dim]


def sizes(size) -> tuple:
    """A shape from PyTorch's size arguments: ints as varargs, or one tuple/list (``randn(2, 3)``,
    ``randn((2, 3))``)."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    try:
        shape = tuple(int(n.__index__()) for n in size)
    except (AttributeError, TypeError):
        raise TypeError(f"size must be integers, as varargs or one tuple, got {size!r}") from None
    if any(n < 0 for n in shape):
        raise ValueError(f"size must be non-negative, got {shape}")
    return shape
