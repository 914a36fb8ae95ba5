"""``descend.linalg``: PyTorch's ``torch.linalg`` norms (``vector_norm``, ``matrix_norm``, ``norm``).

The norms and their gradients are in :mod:`descend.ops.norm`; anything else of ``torch.linalg`` raises
:class:`~descend.UnsupportedError` naming itself.
"""

from __future__ import annotations

from .ops.norm import linalg_norm as norm
from .ops.norm import matrix_norm, vector_norm

__all__ = ["matrix_norm", "norm", "vector_norm"]


def __getattr__(name):
    from .unsupported import unsupported
    raise unsupported("descend.linalg", "torch.linalg", name)
