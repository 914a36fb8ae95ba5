"""``descend.backends``: the PyTorch flags tutorials read or set (``backends.mps.is_available()``,
``backends.cudnn.deterministic = True``). No GPU backend exists, so the queries say False and the flags
are stored and change nothing (descend's CPU kernels are deterministic already)."""

from __future__ import annotations

import types


def _false() -> bool:
    return False


mps = types.SimpleNamespace(is_available=_false, is_built=_false)
cudnn = types.SimpleNamespace(is_available=_false, enabled=False, deterministic=False, benchmark=False)
cuda = types.SimpleNamespace(is_built=_false)
