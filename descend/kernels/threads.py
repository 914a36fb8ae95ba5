"""Running work on every core: a recurrence's batch split into chunks, or a convolution's blocks shared out,
one thread each, each thread's matrix products on one BLAS thread.

A recurrent layer's per-step product ((N, H) by (H, G) for a batch of N) is too small for a BLAS to
spread over threads well: OpenBLAS at two threads takes longer than at one on such products, and on a
busy machine many times longer (its threads spin waiting for each other). The samples of a batch are
independent, though, so each thread can run the whole recurrence of its own share of the batch with no
synchronisation between steps. :func:`serial_blas` holds the BLAS that compiled kernels call (SciPy's,
through ``scipy.linalg.cython_blas``; found with threadpoolctl) to one thread for the duration of a block
and gives back the thread count it had, which is the number of threads the caller may use;
:func:`map_chunks` runs a function over the chunks, the first in the calling thread and the others on
workers that poll for their next job (:mod:`.handoff`: a handoff in microseconds) or a small persistent
pool; :func:`share_out` lets several threads take pieces of work from one list until it is used up (the
convolutions' blocks, which have no order to keep). The kernels release the GIL (``nogil``), as NumPy's
products do, so the chunks run in parallel.

The BLAS thread count is a process-wide setting: while a block is active, other threads' SciPy BLAS calls
run on one thread too. Nested and concurrent blocks are counted, and the first count is restored when the
last one ends.
"""

from __future__ import annotations

import contextlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from . import handoff

__all__ = ["serial_blas", "blas_threads", "one_blas_thread", "spinning_workers", "share_count", "chunks",
           "even_ranges", "map_chunks", "share_out", "holding",
           "MIN_CHUNK_ROWS"]

#: The fewest samples a chunk gets (smaller products lose more to overheads than a thread gains).
MIN_CHUNK_ROWS = 4

_lock = threading.Lock()
_controllers = None  # (the BLAS kernels call, every BLAS): threadpoolctl controllers (empty lists when none found)
_held: dict = {}    # id(controller) → [blocks holding it, the thread count it had before the first]
_pool = None
_pool_size = 0
_pool_pid = 0       # the process the pool's threads belong to (a forked child makes its own)
_workers: list = []  # polling workers (handoff.Worker), when they can run here
_workers_pid = 0
_busy = threading.Lock()  # held by the caller that has the polling workers


def _blas_libraries(every: bool = False):
    global _controllers
    if _controllers is None:
        try:
            from threadpoolctl import ThreadpoolController
            blas = [lib for lib in ThreadpoolController().lib_controllers if lib.user_api == "blas"]
        except Exception:  # pragma: no cover - threadpoolctl missing or failing on this platform
            blas = []
        # SciPy's own copy (a wheel's scipy.libs folder) where it has one, else every BLAS (a shared one)
        scipy_own = [lib for lib in blas if "scipy" in os.path.basename(os.path.dirname(str(lib.filepath)))]
        _controllers = (scipy_own or blas, blas)
    return _controllers[1] if every else _controllers[0]


def _thread_count(lib) -> int:
    """A library's thread count outside every block (the one it had before the first block held it)."""
    entry = _held.get(id(lib))
    return entry[1] if entry is not None else (lib.get_num_threads() or 1)


@contextlib.contextmanager
def serial_blas(every: bool = False):
    """Hold the kernels' BLAS (with ``every``, every BLAS in the process, NumPy's too) to one thread inside the
    block; yields the thread count it had (1 when the library cannot be found or controlled). ``every`` is for
    chunks that call NumPy's matrix products from several threads at once. Each library counts the blocks
    holding it and gets its thread count back when the last one ends, whatever the order they end in."""
    libraries = _blas_libraries(every)
    with _lock:
        threads = max((_thread_count(lib) for lib in libraries), default=1)
        for lib in libraries:
            entry = _held.get(id(lib))
            if entry is None:
                entry = _held[id(lib)] = [0, lib.get_num_threads() or 1]
                lib.set_num_threads(1)
            entry[0] += 1
    try:
        yield threads
    finally:
        with _lock:
            for lib in libraries:
                entry = _held[id(lib)]
                entry[0] -= 1
                if entry[0] == 0:
                    del _held[id(lib)]
                    lib.set_num_threads(entry[1])


def blas_threads() -> int:
    """The thread count of the kernels' BLAS outside any :func:`serial_blas` block (1 when it cannot be
    found): how many chunks :func:`map_chunks` should get."""
    with _lock:
        return max((_thread_count(lib) for lib in _blas_libraries()), default=1)


def one_blas_thread() -> bool:
    """Whether NumPy's matrix products run on one thread now: every BLAS is held to one thread by a
    :func:`serial_blas` ``(every=True)`` block (the caller is one of several threads sharing work out), or NumPy's
    BLAS has one thread anyway. A single-threaded kernel competes with such a product on equal terms; with
    several BLAS threads free, the BLAS would split a large product over the cores and the kernel would not."""
    with _lock:
        libraries = _blas_libraries(True)
        if libraries and all(id(lib) in _held for lib in libraries):
            return True
        return max((_thread_count(lib) for lib in libraries), default=1) == 1


def spinning_workers() -> bool:
    """Whether NumPy's OpenBLAS keeps its idle workers spinning for about 0.1 s after each product: it found no
    ``OPENBLAS_THREAD_TIMEOUT`` of at most 24 (2^24 cycles, a few ms) when it loaded, because NumPy was imported
    before descend (which sets 22 when it comes first) and the variable was not set by hand."""
    value = os.environ.get("OPENBLAS_THREAD_TIMEOUT")
    try:
        return value is None or int(value) > 24
    except ValueError:
        return True


def share_count() -> int:
    """Threads a convolution shares its blocks out among (:func:`share_out`): :func:`blas_threads`, or 1 while
    OpenBLAS's workers spin (:func:`spinning_workers`): a spinning worker holds the core the second thread
    needs, and shared out, W8-like networks ran slower than on one thread (vgg-style CNN, 3×48×48, batch 32:
    60 ms a step before sharing, 78 ms shared with spinning workers, 51–56 ms shared with a short timeout)."""
    return 1 if spinning_workers() else blas_threads()


def chunks(n: int, threads: int) -> list:
    """``n`` rows as at most ``threads`` contiguous slices of at least :data:`MIN_CHUNK_ROWS` rows each
    (one slice when n is small), sizes differing by at most one."""
    k = max(1, min(threads, n // MIN_CHUNK_ROWS))
    bounds = [n * i // k for i in range(k + 1)]
    return [slice(bounds[i], bounds[i + 1]) for i in range(k)]


def even_ranges(total: int, pieces: int, count: int) -> list:
    """(start, stop) ranges covering ``total`` items: at least ``pieces`` (and ``count``) of them, rounded up to
    a multiple of ``count`` threads where the items allow, their sizes differing by one at most, so that work
    shared out among ``count`` threads (:func:`share_out`) leaves none of them a range more than the others."""
    n = min(total, -(-max(pieces, count) // count) * count)
    bounds = [total * i // n for i in range(n + 1)]
    return list(zip(bounds[:-1], bounds[1:]))


def map_chunks(function, parts: list) -> list:
    """``[function(p) for p in parts]``, the first in this thread and the rest on other threads: polling workers
    (:mod:`descend.kernels.handoff`, a handoff in microseconds) where they can run, else a thread pool. While one
    caller has the workers, another (a second thread, or a chunk that itself calls map_chunks) runs its parts in
    turn in its own thread."""
    global _pool, _pool_size, _pool_pid
    if len(parts) == 1:
        return [function(parts[0])]
    if handoff.available():
        if not _busy.acquire(blocking=False):
            return [function(p) for p in parts]
        try:
            return _run_on(_polling_workers(len(parts) - 1), function, parts)
        finally:
            _busy.release()
    with _lock:
        if _pool is None or _pool_size < len(parts) - 1 or _pool_pid != os.getpid():
            if _pool is not None and _pool_pid == os.getpid():
                _pool.shutdown(wait=False)
            _pool = ThreadPoolExecutor(len(parts) - 1, thread_name_prefix="descend-kernels")
            _pool_size, _pool_pid = len(parts) - 1, os.getpid()
        pool = _pool
    futures = [pool.submit(function, p) for p in parts[1:]]
    first = function(parts[0])
    return [first] + [f.result() for f in futures]


def _polling_workers(count: int) -> list:
    """``count`` polling workers of this process (made on first need; a forked child makes its own)."""
    global _workers_pid
    if _workers_pid != os.getpid():
        _workers.clear()
        _workers_pid = os.getpid()
    while len(_workers) < count:
        _workers.append(handoff.Worker(f"descend-kernels-{len(_workers)}"))
    return _workers[:count]


def _run_on(workers: list, function, parts: list) -> list:
    """parts[1:] on ``workers``, parts[0] here; every posted job is waited for, whatever raises, before the
    first error is raised (the jobs may share the caller's buffers)."""
    posted, results, error = [], [], None
    try:
        for worker, part in zip(workers, parts[1:]):
            posted.append((worker, worker.post(function, part)))
        results.append(function(parts[0]))
    except BaseException as raised:  # noqa: B036 - raised again once the workers are done
        error = raised
    for worker, sequence in posted:
        try:
            results.append(worker.join(sequence))
        except BaseException as raised:  # noqa: B036
            error = error or raised
    if error is not None:
        raise error
    return results


def share_out(work, count: int, items: list) -> list:
    """Run ``work(next_item)`` on ``count`` threads (:func:`map_chunks`), every BLAS held to one thread when
    there are several (:func:`serial_blas`; with one, in this thread and nothing held); ``next_item()`` gives
    each caller the next of ``items`` not yet taken, then None, so a thread on a slower core simply takes fewer.
    Returns each thread's result."""
    remaining = iter(items)
    lock = threading.Lock()

    def next_item():
        with lock:
            return next(remaining, None)

    if count == 1:
        return [work(next_item)]
    with serial_blas(every=True):
        return map_chunks(lambda _: work(next_item), list(range(count)))


@contextlib.contextmanager
def holding(locks):
    """Hold every lock of ``locks`` (a sequence in one fixed order, e.g. rows top to bottom, so that two threads
    taking overlapping runs of it cannot deadlock) inside the block; all are released however it ends."""
    taken = []
    try:
        for lock in locks:
            lock.acquire()
            taken.append(lock)
        yield
    finally:
        for lock in reversed(taken):
            lock.release()
