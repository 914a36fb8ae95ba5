"""descend.kernels.handoff and threads.map_chunks on it: polling workers that run the chunks of an operation on
other threads; results in order, errors raised after every job is done, nested and concurrent callers,
a caller that stopped waiting, forked children, and workers that stop using the CPU when idle."""

import os
import threading
import time

import numpy as np
import pytest

from descend.kernels import handoff, threads

pytestmark = pytest.mark.skipif(not handoff.available(), reason="polling workers cannot run here")


def test_map_chunks_returns_results_in_order_from_other_threads():
    for count in (2, 3, 5):
        where = {}

        def job(p):
            where[p] = threading.get_ident()
            return p * p

        assert threads.map_chunks(job, list(range(count))) == [p * p for p in range(count)]
        assert where[0] == threading.get_ident()
        assert len(set(where.values())) == count  # one thread per chunk


def test_chunks_run_at_once():
    """Each chunk waits for every other to have started: this finishes only if they run concurrently."""
    barrier = threading.Barrier(3, timeout=10)
    assert threads.map_chunks(lambda p: barrier.wait() is not None and p, [0, 1, 2]) == [0, 1, 2]


def test_a_workers_error_is_raised_to_the_caller_and_the_worker_goes_on():
    def job(p):
        if p == 1:
            raise KeyError("chunk 1 failed")
        return p

    with pytest.raises(KeyError, match="chunk 1 failed"):
        threads.map_chunks(job, [0, 1])
    assert threads.map_chunks(lambda p: p + 10, [0, 1]) == [10, 11]


def test_the_callers_own_error_waits_for_the_workers_jobs():
    """The jobs may share the caller's buffers: an error in the caller's chunk is raised only once every
    posted job has finished."""
    finished = []

    def job(p):
        if p == 0:
            raise ValueError("chunk 0 failed")
        time.sleep(0.05)
        finished.append(p)
        return p

    with pytest.raises(ValueError, match="chunk 0 failed"):
        threads.map_chunks(job, [0, 1, 2])
    assert sorted(finished) == [1, 2]


def test_nested_and_concurrent_callers_run_their_chunks_in_turn():
    inner = threads.map_chunks(lambda p: threads.map_chunks(lambda q: (p, q), [0, 1]), [0, 1])
    assert inner == [[(0, 0), (0, 1)], [(1, 0), (1, 1)]]
    results, errors = {}, []

    def caller(k):
        try:
            for r in range(200):
                data = np.arange(k, k + 8)
                assert threads.map_chunks(lambda s: data[s].sum(), [slice(0, 4), slice(4, 8)]) == \
                    [data[:4].sum(), data[4:].sum()]
            results[k] = True
        except BaseException as error:  # noqa: B036 - reported below
            errors.append(error)

    callers = [threading.Thread(target=caller, args=(k,)) for k in range(3)]
    for t in callers:
        t.start()
    for t in callers:
        t.join(30)
    assert not errors and sorted(results) == [0, 1, 2]


def test_a_job_left_running_is_finished_before_the_next_is_posted():
    """A caller interrupted while it waited (KeyboardInterrupt) leaves its job running: the next post waits for
    it, and each join gets its own job's result."""
    worker = handoff.Worker("test-worker")
    started = threading.Event()

    def slow(p):
        started.set()
        time.sleep(0.1)
        return p

    first = worker.post(slow, "first")
    started.wait(5)
    second = worker.post(lambda p: p, "second")  # waits for the first job, never joined
    assert second == first + 1
    assert worker.join(second) == "second"


def _thread_cpu_seconds(native_id):
    """User + system CPU time of one thread of this process (Linux: /proc/self/task/<tid>/stat)."""
    with open(f"/proc/self/task/{native_id}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.skipif(not os.path.exists("/proc/self/task"), reason="per-thread CPU times are read from /proc")
def test_idle_workers_stop_using_the_cpu():
    threads.map_chunks(lambda p: p, [0, 1])
    worker = next(t for t in threading.enumerate() if t.name == "descend-kernels-0")
    time.sleep(5 * handoff.SPIN_SECONDS + 0.05)
    before = _thread_cpu_seconds(worker.native_id)
    time.sleep(0.5)
    used = _thread_cpu_seconds(worker.native_id) - before
    assert used < 0.05, f"the idle worker used {used:.3f} s of CPU in 0.5 s"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork here")
def test_a_forked_child_makes_its_own_workers():
    threads.map_chunks(lambda p: p, [0, 1])  # the parent's workers exist
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        try:
            ok = threads.map_chunks(lambda p: p * 3, [1, 2, 3]) == [3, 6, 9]
            os.write(write, b"ok" if ok else b"wrong")
        finally:
            os._exit(0)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    assert os.read(read, 16) == b"ok" and status == 0
    os.close(read)


def test_without_polling_workers_map_chunks_keeps_its_thread_pool(monkeypatch):
    monkeypatch.setattr(handoff, "available", lambda: False)
    where = []
    assert threads.map_chunks(lambda p: where.append(threading.current_thread().name) or p, [4, 5]) == [4, 5]
    assert any(name.startswith("descend-kernels_") for name in where)  # the pool's threads, not a worker
