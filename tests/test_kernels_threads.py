"""descend.kernels.threads.share_out: pieces of work taken from one list by several threads."""

import threading

import numpy as np
from threadpoolctl import threadpool_info

from descend.kernels import threads


def _numpy_blas_threads():
    return max([i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"] or [1])


def test_share_out_runs_every_item_once_on_the_threads_asked_for():
    items = [(i, i + 1) for i in range(37)]
    seen, held = [], []

    def work(next_item):
        mine = []
        while (item := next_item()) is not None:
            mine.append(item)
            held.append(_numpy_blas_threads())
        seen.extend(mine)
        return len(mine)

    before = _numpy_blas_threads()
    counts = threads.share_out(work, 3, items)
    assert sorted(seen) == items and sum(counts) == len(items) and len(counts) == 3
    assert set(held) == {1}  # every BLAS at one thread while several threads run products
    assert _numpy_blas_threads() == before


def test_share_out_on_one_thread_runs_here_and_holds_nothing():
    before = _numpy_blas_threads()
    inside = []

    def work(next_item):
        total = 0
        while (item := next_item()) is not None:
            total += item
            inside.append((threading.current_thread() is threading.main_thread(), _numpy_blas_threads()))
        return total

    assert threads.share_out(work, 1, list(range(10))) == [45]
    assert inside and all(main and n == before for main, n in inside)


def test_share_out_with_fewer_items_than_threads_leaves_the_others_idle():
    out = threads.share_out(lambda next_item: [x for x in iter(next_item, None)], 4, [np.float32(1.5)])
    assert sorted(len(r) for r in out) == [0, 0, 0, 1]


def test_convolutions_share_out_only_while_openblas_workers_sleep_soon(monkeypatch):
    """With OpenBLAS's default 0.1 s of spinning after each product (NumPy imported before descend, no
    OPENBLAS_THREAD_TIMEOUT), the convolutions keep to one thread; with a timeout of at most 24 they use the
    BLAS's thread count."""
    monkeypatch.setattr(threads, "blas_threads", lambda: 2)
    for value, spinning in ((None, True), ("22", False), ("24", False), ("25", True), ("28", True), ("x", True)):
        if value is None:
            monkeypatch.delenv("OPENBLAS_THREAD_TIMEOUT", raising=False)
        else:
            monkeypatch.setenv("OPENBLAS_THREAD_TIMEOUT", value)
        assert threads.spinning_workers() is spinning, value
        assert threads.share_count() == (1 if spinning else 2), value


def test_holding_takes_every_lock_and_releases_them_all_even_on_an_error():
    locks = [threading.Lock() for _ in range(4)]
    with threads.holding(locks[1:3]):
        assert [lock.locked() for lock in locks] == [False, True, True, False]
    assert not any(lock.locked() for lock in locks)
    try:
        with threads.holding(locks):
            raise RuntimeError("inside")
    except RuntimeError:
        pass
    assert not any(lock.locked() for lock in locks)
