"""Memory order: the one place that knows an array may be laid out as its transpose.

A Linear layer keeps its weight (out_features, in_features) in memory as the transpose of an
(in_features, out_features) array (Fortran order): ``x Wᵀ`` then reads Wᵀ contiguously and
dL/dW = (xᵀ g)ᵀ comes out of the matrix product already in the weight's layout (both measured faster
with NumPy's BLAS). Shapes, values and state dicts are PyTorch's; only the strides differ. Code that
walks a parameter's elements in memory order (the optimiser's flat state, ``gradcheck``'s perturbations,
the linear backward) asks this module instead of testing strides itself:

- :func:`memory_order` — ``'F'`` for an array stored as its transpose, else ``'C'``;
- :func:`is_transposed` — ``memory_order(a) == 'F'``;
- :func:`flat_view` — the elements as a 1-D view in memory order (no copy), for a contiguous array;
- :func:`from_flat` — the inverse: a 1-D array seen in a given shape and order.
"""

from __future__ import annotations

import numpy as np

__all__ = ["memory_order", "is_transposed", "flat_view", "from_flat"]


def memory_order(a: np.ndarray) -> str:
    """``'F'`` for an array of two or more dimensions laid out as its transpose (Fortran order and not
    also C order), else ``'C'``."""
    return "F" if a.ndim > 1 and a.flags.f_contiguous and not a.flags.c_contiguous else "C"


def is_transposed(a: np.ndarray) -> bool:
    """Whether ``a`` is stored as its transpose (see :func:`memory_order`)."""
    return memory_order(a) == "F"


def flat_view(a: np.ndarray) -> np.ndarray:
    """All elements of ``a`` as a 1-D array in memory order, sharing ``a``'s memory (writes go through).

    Raises ``ValueError`` for an array that is neither C- nor Fortran-contiguous (a strided slice), whose
    elements no 1-D view can reach; pass ``np.ascontiguousarray(a)`` instead."""
    if not (a.flags.c_contiguous or a.flags.f_contiguous):
        raise ValueError(f"an array of shape {a.shape} with strides {a.strides} is not contiguous, so it has no "
                         "flat view; make it contiguous first (np.ascontiguousarray)")
    return a.reshape(-1, order=memory_order(a))


def from_flat(flat: np.ndarray, shape, order: str) -> np.ndarray:
    """``flat`` (1-D) seen as an array of ``shape`` whose memory order is ``order`` (``'C'`` or ``'F'``)."""
    if order not in ("C", "F"):
        raise ValueError(f"order must be 'C' or 'F', got {order!r}")
    return flat.reshape(shape, order=order)
