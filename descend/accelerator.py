"""``descend.accelerator``: PyTorch's device-agnostic accelerator queries; there is none (CPU only).

``descend.accelerator.current_accelerator().type if descend.accelerator.is_available() else "cpu"`` (the
PyTorch tutorials' device choice) gives ``"cpu"``.
"""

from __future__ import annotations


def is_available() -> bool:
    """False: descend computes on the CPU."""
    return False


def device_count() -> int:
    return 0


def current_accelerator(check_available: bool = False):
    """None: there is no accelerator."""
    return None
