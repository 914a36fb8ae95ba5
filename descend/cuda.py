"""``descend.cuda``: PyTorch's CUDA queries, answered for a library that computes on the CPU only.

``is_available()`` is False and ``device_count()`` 0, so ``"cuda" if descend.cuda.is_available() else "cpu"``
picks the CPU. Seeding calls are accepted and do nothing (there is no CUDA generator); anything that would
need a GPU raises :class:`~descend.device.DeviceUnavailableError`.
"""

from __future__ import annotations

from .device import check_device


def is_available() -> bool:
    """False: descend has no GPU backend."""
    return False


def device_count() -> int:
    """0 GPUs."""
    return 0


def is_initialized() -> bool:
    return False


def manual_seed(seed: int) -> None:
    """Accepted and ignored (as PyTorch does without CUDA); seed descend with ``descend.manual_seed``."""


def manual_seed_all(seed: int) -> None:
    """Accepted and ignored (as PyTorch does without CUDA)."""


def empty_cache() -> None:
    """Nothing to free."""


def current_device() -> int:
    check_device("cuda")  # raises: there is no current CUDA device


def synchronize(device=None) -> None:
    check_device("cuda")  # raises
