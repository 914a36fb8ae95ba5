"""Compiled kernels: the few loops NumPy cannot express as one pass, compiled with Numba.

A NumPy expression such as ``0.5 * x * (1 + erf(x / √2))`` makes one full pass over memory per operation and
runs on one core. A kernel here does the same arithmetic in a single pass over the data, split over the
machine's cores for large arrays. Every kernel has a NumPy counterpart in the op that calls it (the code the
op ran before the kernel existed), which is used when Numba is not importable or kernels are switched off
(:func:`disabled`); the tests run both and compare them with PyTorch.

Compilation is lazy and cached: nothing of Numba is imported until an op first calls a kernel, and the
machine code is written to Numba's cache (``__pycache__`` beside this package, or the user cache folder when
that is read-only), so only the first run on a machine pays the compile time (about a second per kernel);
later processes load it in milliseconds.

Kernels are ordinary functions of NumPy arrays written as loops, decorated with :func:`kernel`. A kernel
whose outer loop is ``prange`` runs that loop on :func:`set_threads` threads (one by default) when its first
argument has at least ``parallel_from`` elements, and serially below (a parallel launch costs a few
microseconds, more than a small array's whole loop). A scalar function that kernels call is decorated with
:func:`helper`; it is compiled when a kernel of its module first compiles (and inlined into it by the
compiler).
"""

from __future__ import annotations

import contextlib
import os
import threading
import types

__all__ = ["kernel", "helper", "vectorised", "enabled", "available", "disabled", "thread_count", "set_threads",
           "Kernel", "Vectorised", "prange"]

#: The parallel loop of a kernel. Plain ``range`` until a kernel compiles, when it becomes ``numba.prange``
#: in the kernel's module (so importing a kernel module never imports Numba).
prange = range

_local = threading.local()
_numba = None            # the numba module once imported, False when it cannot be
_import_lock = threading.Lock()

#: A kernel's first argument must have this many elements for the parallel version to run.
PARALLEL_FROM = 1 << 15


def _load_numba():
    global _numba
    if _numba is None:
        with _import_lock:
            if _numba is None:
                # Numba's OpenMP threads would otherwise spin for a while after each parallel loop, on the cores
                # the BLAS threads need for the matrix product that usually comes next (measured: a 256×512 @
                # 512×512 product after a parallel kernel, median 0.48 ms alone, 47 ms on a busy 2-core
                # machine with spinning threads, 0.47 ms with them asleep). A value the user set is kept.
                os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
                try:
                    import numba
                    _numba = numba
                except Exception:  # pragma: no cover - Numba missing or broken on this platform
                    _numba = False
    return _numba


def available() -> bool:
    """Whether Numba can be imported here (importing it on first call)."""
    return bool(_load_numba())


def enabled() -> bool:
    """Whether ops use compiled kernels now: Numba is available and no :func:`disabled` block is active in
    this thread."""
    return not getattr(_local, "off", False) and available()


@contextlib.contextmanager
def disabled():
    """Run the ops' NumPy code instead of the compiled kernels inside this block (this thread only)."""
    previous = getattr(_local, "off", False)
    _local.off = True
    try:
        yield
    finally:
        _local.off = previous


def _compile_helpers(function, numba, callees: bool = True) -> None:
    """Replace, in ``function``'s module, ``prange`` by Numba's and each helper (and with ``callees`` each
    vectorised function) by its compiled version (once per module: later calls find them compiled)."""
    function.__globals__["prange"] = numba.prange
    for name, value in list(function.__globals__.items()):
        if isinstance(value, _Helper):
            function.__globals__[name] = numba.njit(value.function, cache=True, nogil=True, error_model="numpy",
                                                    inline="always" if value.inline else "never")
        elif callees and isinstance(value, Vectorised):  # compiled on its own, then called
            function.__globals__[name] = value.compiled()


class Kernel:
    """A lazily compiled kernel: ``k(*arrays)`` compiles on first use (serial and, for ``parallel=True``, a
    parallel version) and runs the one suited to the size of the first argument."""

    __slots__ = ("function", "parallel", "parallel_from", "reassociate", "contract", "_serial", "_parallel",
                 "__name__")

    def __init__(self, function, parallel: bool, parallel_from: int, reassociate: bool = False,
                 contract: bool = False):
        self.function, self.parallel, self.parallel_from = function, parallel, parallel_from
        self.reassociate, self.contract = reassociate, contract
        self._serial = self._parallel = None
        self.__name__ = function.__name__

    def _compile(self, parallel: bool):
        numba = _load_numba()
        if not numba:
            raise RuntimeError(f"kernel {self.__name__} needs Numba, which cannot be imported; check "
                               "descend.kernels.enabled() before calling a kernel")
        function = self.function
        _compile_helpers(function, numba)
        if not parallel:  # a separate function object, so the two versions have separate cache entries
            function = types.FunctionType(function.__code__, function.__globals__, function.__name__ + "_serial",
                                          function.__defaults__, function.__closure__)
            function.__qualname__ = self.function.__qualname__ + "_serial"
        # reassociation lets sums vectorise (several partial sums, added at the end); contraction fuses a
        # multiply and an add into one multiply-add (one rounding instead of two); NaN and infinity keep their
        # IEEE meaning (no 'nnan'/'ninf' flags)
        fastmath = {"reassoc", "contract"} if self.reassociate else {"contract"} if self.contract else False
        return numba.njit(function, cache=True, nogil=True, parallel=parallel, error_model="numpy",
                          fastmath=fastmath)

    def __call__(self, *args):
        if self.parallel and _threads[0] > 1 and args[0].size >= self.parallel_from:
            return self.run_parallel(*args)
        return self.run_serial(*args)

    def run_parallel(self, *args):
        """The parallel version (its ``prange`` loop split over the cores), whatever the sizes."""
        if self._parallel is None:
            self._parallel = self._compile(True)
        return self._parallel(*args)

    def run_serial(self, *args):
        """The serial version (``prange`` as ``range``)."""
        if self._serial is None:
            self._serial = self._compile(False)
        return self._serial(*args)


#: Threads of the kernels' parallel loops (see :func:`set_threads`).
_threads = [1]


def thread_count() -> int:
    """Threads a parallel kernel uses now (:func:`set_threads`; 1 by default, and without Numba)."""
    return _threads[0] if available() else 1


def set_threads(n: int) -> None:
    """Run the kernels' parallel loops on ``n`` threads (Numba's pool), from arrays of
    :data:`PARALLEL_FROM` elements on; ``n = 1`` (the default) runs every kernel serially.

    One thread is the default because it measured faster here: on a 2-core machine whose BLAS runs its
    products on both cores, the BLAS threads keep spinning for a while after each product, so a kernel
    started next on two threads waits for the second core (W8, W9, W10 and W1 steps 1–6 % slower on two
    threads than on one; docs/kernels.md)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_threads: n must be a positive int, got {n!r}")
    numba = _load_numba()
    if numba and n > 1:
        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    _threads[0] = n


class _Helper:
    """A function kernels call: plain Python until a kernel of its module compiles."""

    __slots__ = ("function", "inline")

    def __init__(self, function, inline: bool = False):
        self.function, self.inline = function, inline

    def __call__(self, *args):
        return self.function(*args)


def helper(function=None, *, inline: bool = False):
    """Decorator: a function that kernels of the same module call (compiled with them).

    ``inline=True`` inlines its body into each caller before compiling, for a helper that takes arrays: a call
    that is not inlined counts references to every array it is passed (atomic operations), which can cost more
    than a short loop over a tile's samples (measured: the F(4×4, 3×3) transforms of
    :mod:`descend.kernels.winograd4` took 3–5× as long with their helpers called)."""
    if function is None:
        return lambda f: _Helper(f, inline)
    return _Helper(function)


class Vectorised:
    """A function of fixed signature compiled with LLVM's SLP vectoriser switched on (see :func:`vectorised`):
    callable from Python and from kernels; compiled, or loaded from Numba's cache (unless ``cache=False``), on
    first use."""

    __slots__ = ("function", "signature", "cache", "_compiled", "_vectorises", "__name__")

    def __init__(self, function, signature: str, cache: bool = True):
        self.function, self.signature, self.cache = function, signature, cache
        self._compiled = None
        self._vectorises = False
        self.__name__ = function.__name__

    def compiled(self):
        """The Numba dispatcher (compiling it the first time)."""
        if self._compiled is None:
            numba = _load_numba()
            if not numba:
                raise RuntimeError(f"kernel {self.__name__} needs Numba, which cannot be imported; check "
                                   "descend.kernels.enabled() before calling a kernel")
            from numba.core import config
            try:
                from numba.core.compiler_lock import global_compiler_lock as lock
            except ImportError:  # pragma: no cover - a Numba that moved its lock: compile unlocked
                lock = contextlib.nullcontext()
            switchable = hasattr(config, "SLP_VECTORIZE")
            with lock:  # no other compilation sees the switch
                _compile_helpers(self.function, numba, callees=False)  # inlined into this function: vectorised with it
                if switchable:
                    previous, config.SLP_VECTORIZE = config.SLP_VECTORIZE, 1
                try:
                    compiled = numba.njit(self.signature, cache=self.cache, nogil=True, error_model="numpy",
                                          fastmath={"contract"})(self.function)
                finally:
                    if switchable:
                        config.SLP_VECTORIZE = previous
            self._vectorises = switchable
            self._compiled = compiled
        return self._compiled

    def vectorises(self) -> bool:
        """Whether it was compiled with the SLP vectoriser on (False where this Numba has no such switch: the
        kernel is then correct but scalar, and callers should prefer BLAS)."""
        self.compiled()
        return self._vectorises

    def __call__(self, *args):
        return self.compiled()(*args)


def vectorised(signature: str):
    """Decorator: ``function`` compiled for the one Numba ``signature`` with LLVM's SLP (straight-line)
    vectoriser on, which Numba leaves off by default (since its issue #8705). For kernels whose inner work is
    written as many scalar statements on consecutive elements (:mod:`descend.kernels.panels`): the loop
    vectoriser, which the other kernels rely on, does not pack those. Switched on for this one compilation
    only, under Numba's compiler lock; results stay IEEE (``contract``: multiply-adds fused, nothing
    reordered)."""
    return lambda function: Vectorised(function, signature)


def kernel(function=None, *, parallel: bool = False, parallel_from: int = PARALLEL_FROM, reassociate: bool = False,
           contract: bool = False):
    """Decorator: ``function`` (a loop over NumPy arrays in Numba's subset of Python) as a :class:`Kernel`.

    ``reassociate=True`` lets the compiler reorder additions (so a sum runs as several vectorised partial
    sums): its rounding then differs from a left-to-right sum by float32's usual few ulps. ``contract=True``
    (implied by ``reassociate``) lets it fuse a·b + c into one multiply-add, rounded once: a polynomial in
    Horner form then takes half the instructions and rounds no worse."""
    if function is None:
        return lambda f: Kernel(f, parallel, parallel_from, reassociate, contract)
    return Kernel(function, parallel, parallel_from, reassociate, contract)
