"""Handing a chunk of work to another thread in microseconds: workers that poll for their next job for a
short while after each one before they go to sleep.

:func:`descend.kernels.threads.map_chunks` gives the chunks of a recurrent layer, a convolution or a
normalisation to other threads and runs one itself. A worker that sleeps on a lock or a condition between jobs
is woken through the operating system, and a caller that sleeps until the workers are done is woken the same
way; on the two-core virtual machine these were measured on, each handoff of a job that does nothing took
18–48 µs (median 47 µs, ``concurrent.futures.ThreadPoolExecutor``) where the jobs themselves take 0.1–2 ms.
Here a worker polls a flag for :data:`SPIN_SECONDS` after each job, without the GIL, giving its core to any
other runnable thread at every poll (``sched_yield``), and only then sleeps on a condition; the caller polls for
the results the same way. The same empty handoff took 4–5 µs.

Protocol, per worker: ``flags = [posted, finished]``, the sequence numbers of the last job given and of the
last one done. :meth:`Worker.post` waits until the previous job is finished (a caller interrupted while it
waited, by KeyboardInterrupt say, leaves a job running), stores the job, then raises ``posted``; the worker
sees the change, takes the GIL to run the job, stores its outcome, then raises ``finished``. Everything the
job reads was written before the caller released the GIL that the worker then took, and the outcome is
read by the caller after it takes the GIL back, so the flags only say when to look. A worker asleep (or a
caller asleep in :meth:`Worker.join`) is woken through a condition, whose lock orders the sleeper's last look
at the flags and the other side's change of them.

Polling needs Numba (a compiled loop that releases the GIL and reads the flag anew each time round, the
``sched_yield`` call in between keeping the compiler from reading it once) and the C library's
``sched_yield``; :func:`available` is False without them and the caller keeps its thread pool.
"""

from __future__ import annotations

import os
import threading
import time

import numpy as np

__all__ = ["Worker", "available", "SPIN_SECONDS"]

#: How long a worker (and a caller waiting for results) polls before sleeping on a condition: long enough to
#: span the gap between a recurrent layer's forward and backward chunks (W6, steps alternating in one process:
#: 3.38 ms with no polling, 3.11 with 0.5 ms, 3.16 with 2 ms), short enough not to crowd the BLAS's own threads
#: off the core (W8 with 2 ms: 1.4 % slower than with the thread pool; with 0.5 ms: 0.8 % faster). An idle
#: program stops using the core within a millisecond.
SPIN_SECONDS = 0.0005

_poll = None        # the compiled polling loop, False when it cannot be had
_poll_lock = threading.Lock()
_spins_per_second = 3.0e5


def _compile():
    """The polling loop ``poll(flags, index, old, spins) -> changed`` compiled, or False."""
    if os.name != "posix":
        return False
    from . import available as numba_available
    if not numba_available():
        return False
    try:
        import numba
        from numba import types
        globals()["_sched_yield"] = types.ExternalFunction("sched_yield", types.int32())
        compiled = numba.njit("boolean(int64[::1], int64, int64, int64)", nogil=True, cache=True)(_poll_loop)
        flags = np.zeros(2, np.int64)
        start = time.perf_counter()
        compiled(flags, 0, 0, 200)  # also tells how long a poll takes here
        elapsed = time.perf_counter() - start
        global _spins_per_second
        _spins_per_second = 200 / max(elapsed, 1e-7)
        return compiled
    except Exception:  # pragma: no cover - no sched_yield symbol, or Numba refusing the external function
        return False


def _sched_yield():  # pragma: no cover - replaced by the external C function before the loop compiles
    return 0


def _poll_loop(flags, index, old, spins):
    for _ in range(spins):
        if flags[index] != old:
            return True
        _sched_yield()
    return flags[index] != old


def available() -> bool:
    """Whether polling workers can run here (compiling their loop on first call)."""
    global _poll
    if _poll is None:
        with _poll_lock:
            if _poll is None:
                _poll = _compile()
    return bool(_poll)


def _spins(seconds: float) -> int:
    return max(1, int(seconds * _spins_per_second))


class Worker:
    """One thread that runs the jobs posted to it, one at a time, polling for the next for
    :data:`SPIN_SECONDS` after each (see the module docstring). Needs :func:`available`."""

    def __init__(self, name: str = "descend-kernels"):
        self.flags = np.zeros(2, np.int64)
        self._job = None
        self._outcome = None
        self._wake = threading.Condition()
        self._worker_sleeps = False
        self._caller_sleeps = False
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def _loop(self):
        seen = 0
        while True:
            if not _poll(self.flags, 0, seen, _spins(SPIN_SECONDS)):
                with self._wake:
                    self._worker_sleeps = True
                    while self.flags[0] == seen:
                        self._wake.wait(0.05)
                    self._worker_sleeps = False
            seen = int(self.flags[0])
            function, arg = self._job
            self._job = None
            try:
                self._outcome = (True, function(arg))
            except BaseException as error:  # noqa: B036 - handed to the caller, who raises it
                self._outcome = (False, error)
            function = arg = None
            self.flags[1] = seen
            if self._caller_sleeps:  # read after the flag is raised (see post for why no lock is needed here)
                with self._wake:
                    self._wake.notify_all()

    def post(self, function, arg) -> int:
        """Give the worker ``function(arg)``; returns the job's sequence number for :meth:`join`."""
        previous = int(self.flags[0])
        if int(self.flags[1]) != previous:  # an earlier caller stopped waiting: let that job end first
            self._wait_finished(previous)
        self._job = (function, arg)
        # The flag is raised, then the sleeper's mark read; the sleeper sets its mark, then reads the flag. Both
        # sides run these steps holding the GIL, so at least one sees the other's write: the sleeper does not
        # sleep, or it is woken. (Its wait has a timeout all the same.) Without the lock here the worker, which
        # sees the flag at once, is not kept waiting for it.
        self.flags[0] = previous + 1
        if self._worker_sleeps:
            with self._wake:
                self._wake.notify_all()
        return previous + 1

    def join(self, sequence: int):
        """The result of job ``sequence`` (raising what it raised), waiting until it is done."""
        self._wait_finished(sequence)
        ok, value = self._outcome
        self._outcome = None
        if not ok:
            raise value
        return value

    def _wait_finished(self, sequence: int) -> None:
        if _poll(self.flags, 1, sequence - 1, _spins(SPIN_SECONDS)):
            return
        with self._wake:
            self._caller_sleeps = True
            try:
                while int(self.flags[1]) != sequence:
                    self._wake.wait(0.05)  # a timeout, so that the caller stays interruptible
            finally:
                self._caller_sleeps = False
