"""``descend.Size``: PyTorch's ``torch.Size``, a tuple of ints with ``numel()``.

``x.shape`` of a descend tensor is still a plain tuple (``Tensor.shape`` belongs to the tensor module);
``Size`` equals the tuple of the same ints, so the tutorial idioms ``x.shape == torch.Size([2, 3])``,
``torch.zeros(torch.Size([2, 3]))`` and ``x.view(torch.Size([6]))`` work either way.
"""

from __future__ import annotations

import math
import operator


class Size(tuple):
    """A shape: ``Size([2, 3])`` (any iterable of ints), with ``numel()`` = the product of its sizes (1 when
    empty); slicing and ``+`` give a ``Size`` again, as in PyTorch."""

    def __new__(cls, sizes=()):
        try:
            items = list(sizes)
        except TypeError:
            raise TypeError(f"Size takes an iterable of ints, got {type(sizes).__name__}") from None
        out = []
        for i, n in enumerate(items):
            if isinstance(n, bool) or not hasattr(n, "__index__"):
                raise TypeError(f"Size takes an iterable of ints (item {i} is {type(n).__name__})")
            out.append(operator.index(n))
        return super().__new__(cls, out)

    def numel(self) -> int:
        return math.prod(self)

    def __getitem__(self, key):
        item = super().__getitem__(key)
        return Size(item) if isinstance(key, slice) else item

    def __add__(self, other):
        return Size(tuple(self) + tuple(other))

    def __radd__(self, other):
        return Size(tuple(other) + tuple(self))

    def __repr__(self):
        return f"Size({list(self)})"

    __str__ = __repr__
