"""NumPy's own float32 matrix product (``cblas_sgemm``), for compiled kernels to call once per step.

A kernel's ``np.dot`` goes to the BLAS that Numba links, SciPy's copy of OpenBLAS, which need not be NumPy's:
with NumPy 2.4 and SciPy 1.16 wheels they are OpenBLAS 0.3.31 and 0.3.30, and on an AVX2 machine the
(16 × 128) · (128 × 512) product of an LSTM step took 44 µs in NumPy's and 75 µs in SciPy's. :func:`sgemm`
finds ``cblas_sgemm`` in the BLAS library NumPy loaded and returns it as a ctypes function that kernels take
as an argument and call in nopython mode (row-major, no transposes):

    C (M × N) = alpha · A (M × K) · B (K × N) + beta · C

with the leading dimensions of C-contiguous arrays (K, N and N). Where no such symbol is found (a NumPy built
on another BLAS), it returns a placeholder of the same signature and ``found = False``, and kernels use
``np.dot``.
"""

from __future__ import annotations

import ctypes
import os

__all__ = ["sgemm", "placeholder", "numpy_blas_info", "ROW_MAJOR", "NO_TRANS"]

#: CBLAS's enumerations.
ROW_MAJOR, NO_TRANS = 101, 111

# (symbol, integer type of its dimensions): the scipy-openblas wheels' ILP64 names first, then plain CBLAS
_SYMBOLS = (("scipy_cblas_sgemm64_", ctypes.c_int64), ("cblas_sgemm64_", ctypes.c_int64),
            ("scipy_cblas_sgemm", ctypes.c_int), ("cblas_sgemm", ctypes.c_int))
_found = None


def _argtypes(index):
    e, f, p = ctypes.c_int, ctypes.c_float, ctypes.c_void_p
    return [e, e, e, index, index, index, f, p, index, p, index, f, p, index]


def numpy_blas_info() -> list:
    """threadpoolctl's records of the BLAS libraries loaded in this process, NumPy's own copy (a wheel's
    ``numpy.libs`` folder) first; a shared system BLAS serves both. Empty without threadpoolctl."""
    try:
        from threadpoolctl import threadpool_info
        info = [lib for lib in threadpool_info() if lib.get("user_api") == "blas"]
    except Exception:  # pragma: no cover - threadpoolctl missing or failing on this platform
        return []
    return sorted(info, key=lambda lib: "numpy" not in os.path.basename(os.path.dirname(str(lib.get("filepath")))))


def _numpy_blas_paths():
    return [str(lib["filepath"]) for lib in numpy_blas_info()]


def sgemm():
    """``(function, found)``: NumPy's BLAS ``cblas_sgemm`` as a ctypes function and True, or a placeholder
    that must not be called and False."""
    global _found
    if _found is None:
        _found = _locate()
    return _found


def _locate():
    for path in _numpy_blas_paths():
        try:
            library = ctypes.CDLL(path)
        except OSError:  # pragma: no cover - listed by threadpoolctl, so it loads
            continue
        for name, index in _SYMBOLS:
            function = getattr(library, name, None)
            if function is not None:
                function.restype = None
                function.argtypes = _argtypes(index)
                return function, True
    return placeholder(), False


def placeholder():
    """A ctypes function of ``cblas_sgemm``'s ILP64 signature that does nothing: what :func:`sgemm` gives
    kernels with ``found = False``, which then never call it."""
    return ctypes.CFUNCTYPE(None, *_argtypes(ctypes.c_int64))(lambda *args: None)
