"""Recycled memory for large arrays: a training step's big temporaries without fresh pages every step.

A training step allocates the same large arrays step after step (activations, gradients, patch
matrices). Taken fresh from the C allocator, each multi-MiB array is new memory from the operating
system: every 4 KiB page is faulted in on first touch (a microsecond or more each) and given back when the
array dies, and the next step pays again. On a small CPU that is a third of a convolutional network's
step. :func:`empty` instead hands out a view of a buffer kept here, reused once nothing refers to it.

Whether a buffer is free is read from its reference count: every array made from it (the view handed
out, any view of that, a tensor holding one) keeps a reference to the buffer, so when the count is back
to the pool's own references nothing can see its memory and it is handed out again. No array is ever
released by hand, and a buffer in use can never be given out twice.

Only arrays of at least :data:`MIN_BYTES` come from here (small ones are cheap from the allocator). The
pool keeps at most ``limit`` bytes in buffers nothing uses (:func:`set_limit`, 256 MiB by default):
when a new buffer would pass it, the idle ones are dropped first. :func:`clear` drops every idle buffer
now, :func:`stats` says what is held.
"""

from __future__ import annotations

import bisect
import sys
import threading
from math import prod

import numpy as np

__all__ = ["empty", "empty_like", "empty_ordered", "copy_ordered", "zeros", "stride_order", "dense_order", "clear",
           "set_limit", "stats", "MIN_BYTES"]

#: Arrays smaller than this (bytes) come straight from ``np.empty``.
MIN_BYTES = 1 << 18

#: An idle buffer is reused for a request of at least 1/MAX_FIT of its size.
MAX_FIT = 2

#: Sizes are rounded up to whole pages, so the same shape in another dtype or layout shares buffers.
_PAGE = 4096

#: References to a buffer while nothing outside the pool holds it, seen from :func:`_take`: its bucket's
#: list, the loop variable and ``sys.getrefcount``'s own argument.
_IDLE_REFS = 3

_getrefcount = sys.getrefcount
_lock = threading.Lock()
_buckets: dict[int, list[np.ndarray]] = {}
_sizes: list[int] = []  # the keys of _buckets, sorted
_held = 0  # bytes in all buffers, in use or idle
_limit = 256 << 20


def _take(nbytes: int) -> np.ndarray:
    """A 1-D uint8 buffer of at least ``nbytes`` (page-rounded) that nothing else refers to: the smallest idle
    one at least that large and at most :data:`MAX_FIT` times as large (best fit: arrays of different sizes
    share the buffers the way they would share the allocator's memory), else a new one. Without the
    bound a small array takes a large idle buffer and the next large one needs a fresh buffer, so the pool
    would hold up to twice what is ever in use at once (measured: a small CNN's training step, 13 MiB in
    use at most, 26 MiB held; 20 MiB with the bound)."""
    global _held
    with _lock:
        start = bisect.bisect_left(_sizes, nbytes)
        for size in _sizes[start:]:
            if size > MAX_FIT * nbytes:
                break
            for buf in _buckets[size]:
                if _getrefcount(buf) == _IDLE_REFS:
                    return buf
        if _held + nbytes > _limit + _in_use_bytes():
            _drop_idle()
        buf = np.empty(nbytes, np.uint8)
        bucket = _buckets.get(nbytes)
        if bucket is None:
            bucket = _buckets[nbytes] = []
            bisect.insort(_sizes, nbytes)
        bucket.append(buf)
        _held += nbytes
        return buf


def _in_use_bytes() -> int:
    return sum(size * sum(1 for b in bucket if _getrefcount(b) > _IDLE_REFS) for size, bucket in _buckets.items())


def _drop_idle() -> None:
    """Forget every buffer nothing uses (called with the lock held)."""
    global _held
    for size in list(_buckets):
        bucket = _buckets[size]
        keep = [b for b in bucket if _getrefcount(b) > _IDLE_REFS]
        _held -= size * (len(bucket) - len(keep))
        if keep:
            _buckets[size] = keep
        else:
            del _buckets[size]
            _sizes.remove(size)


def empty(shape, dtype=np.float32) -> np.ndarray:
    """An uninitialised C-contiguous array of ``shape`` and ``dtype``, from a recycled buffer when large.

    Use it exactly like ``np.empty``; the array (and every view of it) may live as long as the caller
    likes: its memory is reused only after the last reference to it is gone.
    """
    dtype = np.dtype(dtype)
    if isinstance(shape, (int, np.integer)):
        shape = (int(shape),)
    nbytes = prod(shape) * dtype.itemsize
    if nbytes < MIN_BYTES:
        return np.empty(shape, dtype)
    buf = _take(-(-nbytes // _PAGE) * _PAGE)
    return buf[:nbytes].view(dtype).reshape(shape)


def zeros(shape, dtype=np.float32) -> np.ndarray:
    """Like :func:`empty`, filled with zeros."""
    out = empty(shape, dtype)
    out.fill(0)
    return out


def empty_like(a: np.ndarray, dtype=None) -> np.ndarray:
    """:func:`empty` of ``a``'s shape and dtype (or ``dtype``), its axes laid out in memory in the order of
    ``a``'s strides (a transposed view gives a transposed result), as ``np.empty_like``."""
    dtype = a.dtype if dtype is None else dtype
    if a.ndim < 2 or a.flags.c_contiguous:
        return empty(a.shape, dtype)
    return empty_ordered(a.shape, stride_order(a), dtype)


def empty_ordered(shape, order, dtype=np.float32) -> np.ndarray:
    """:func:`empty` of ``shape`` whose axes are laid out in memory in ``order`` (slowest first), as
    :func:`stride_order` reports it for another array."""
    out = empty(tuple(shape[i] for i in order), dtype)
    return out.transpose(np.argsort(order))


def copy_ordered(a: np.ndarray, order) -> np.ndarray:
    """A copy of ``a`` from :func:`empty_ordered`: same shape and values, axes laid out in ``order``."""
    out = empty_ordered(a.shape, order, a.dtype)
    np.copyto(out, a)
    return out


def stride_order(a: np.ndarray) -> list:
    """The axes of ``a`` from the largest stride to the smallest (the memory order ``np.empty_like`` keeps)."""
    return sorted(range(a.ndim), key=lambda i: -abs(a.strides[i]))


def dense_order(a: np.ndarray):
    """The axes of ``a`` from the slowest-varying in memory to the fastest, when ``a`` is a transposed view of
    a contiguous block (``a.transpose(order)`` is C-contiguous); else None."""
    order = stride_order(a)
    return order if a.transpose(order).flags.c_contiguous else None


def clear() -> None:
    """Release every buffer nothing uses now (buffers still in use stay until they are free)."""
    with _lock:
        _drop_idle()


def set_limit(nbytes: int) -> None:
    """Keep at most ``nbytes`` in idle buffers (0 turns recycling off: every large array is then dropped
    from the pool as soon as a new one is needed)."""
    global _limit
    if isinstance(nbytes, bool) or not isinstance(nbytes, (int, np.integer)) or nbytes < 0:
        raise ValueError(f"set_limit: nbytes must be an int >= 0, got {nbytes!r}")
    with _lock:
        _limit = int(nbytes)
        if _held > _limit + _in_use_bytes():
            _drop_idle()


def stats() -> dict:
    """``{'buffers', 'held_bytes', 'in_use_bytes', 'limit_bytes'}`` of the pool now."""
    with _lock:
        return {"buffers": sum(len(b) for b in _buckets.values()), "held_bytes": _held,
                "in_use_bytes": _in_use_bytes(), "limit_bytes": _limit}

