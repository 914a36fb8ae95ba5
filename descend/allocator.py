"""The C allocator's thresholds for large arrays (glibc's malloc, the allocator NumPy asks on Linux).

glibc serves a request of at least ``M_MMAP_THRESHOLD`` bytes (128 KiB at start) with a fresh ``mmap`` and
gives it back to the kernel on ``free``, so the next array of that size is new memory again and every 4 KiB
page of it costs a page fault when it is first written. A training step allocates and frees the same arrays
each time (activations, gradients, a recurrent layer's gates), so with the start values it pays for the same
faults every step. glibc raises the threshold by itself, up to 32 MiB, after the first ``free`` of an
mmap-served block no larger than that, with the trim threshold (the free memory at the top of the heap kept
instead of given back) at twice it; whether and when that happens depends on what the process freed first,
so the same step can run at two speeds in two processes. Measured on two cores, descend's steps alone: the
LSTM workload W6 at 11.3–13.0 ms a step with 1872 page faults a step, at 8.1–8.7 ms with none once the
thresholds were set (docs/kernels.md has the other workloads).

:func:`tune` sets both thresholds where glibc's own rule ends: ``M_MMAP_THRESHOLD`` = 32 MiB and
``M_TRIM_THRESHOLD`` = 64 MiB. Arrays of up to 32 MiB then come from the heap and are reused; larger ones
are still mapped and unmapped each time; at most 64 MiB of freed memory stays with the process. ``import
descend`` calls it, except where malloc is not glibc's (nothing to set), where the environment already sets
either threshold (``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_`` or ``glibc.malloc`` in
``GLIBC_TUNABLES``: yours are kept), or where ``DESCEND_MALLOC=system`` asks descend to leave malloc alone.
"""

from __future__ import annotations

import ctypes
import os

__all__ = ["tune", "tuned", "MMAP_THRESHOLD", "TRIM_THRESHOLD"]

#: Bytes from which glibc maps each block on its own: the largest value of its dynamic threshold (64-bit).
MMAP_THRESHOLD = 32 << 20
#: Free bytes at the top of the heap that glibc keeps rather than gives back: twice the above, as its rule sets.
TRIM_THRESHOLD = 64 << 20

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's <malloc.h> parameter numbers
_tuned = False


def _user_settings() -> bool:
    """Whether the environment sets glibc's malloc thresholds itself."""
    return ("MALLOC_MMAP_THRESHOLD_" in os.environ or "MALLOC_TRIM_THRESHOLD_" in os.environ
            or "glibc.malloc" in os.environ.get("GLIBC_TUNABLES", ""))


def _mallopt():
    """glibc's ``mallopt`` from the running process, or None (another C library, or not Linux)."""
    try:
        libc = ctypes.CDLL(None)
        if not hasattr(libc, "gnu_get_libc_version"):
            return None
        function = libc.mallopt
    except (OSError, AttributeError):
        return None
    function.argtypes, function.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return function


def tune() -> bool:
    """Set glibc's mmap and trim thresholds to :data:`MMAP_THRESHOLD` and :data:`TRIM_THRESHOLD` (see the
    module docstring for when it does nothing); returns whether they are set."""
    global _tuned
    if _tuned:
        return True
    if os.environ.get("DESCEND_MALLOC", "").lower() == "system" or _user_settings():
        return False
    mallopt = _mallopt()
    if mallopt is None:
        return False
    _tuned = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return _tuned


def tuned() -> bool:
    """Whether :func:`tune` set the thresholds in this process."""
    return _tuned
