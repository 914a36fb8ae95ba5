"""The compiled transposed copy (descend.kernels.transpose): exact against NumPy's ``a.T`` on shapes with and
without whole 8 × 8 blocks, NumPy's copy where the kernel is not taken, one-line errors, and its users (the
convolutions' batch-innermost layout, the recurrent layers' weight gradients)."""

import numpy as np
import pytest

from descend import kernels
from descend.kernels import transpose as T
from descend.ops.conv import batch_innermost

pytestmark = pytest.mark.skipif(not kernels.available(), reason="Numba is not importable here")

RNG = np.random.default_rng(5)


@pytest.mark.parametrize("shape", [(64, 3072), (800, 160), (304, 1024), (135, 243), (8, 2048), (2049, 9),
                                   (128, 784), (1000, 17)])
def test_compiled_copy_is_exact(shape):
    a = RNG.standard_normal(shape).astype(np.float32)
    out = np.full(shape[::-1], np.nan, np.float32)
    assert T.takes(a, out)
    assert T.transpose_into(a, out) is out
    np.testing.assert_array_equal(out, a.T)


@pytest.mark.parametrize("shape", [(7, 5000), (5000, 7), (20, 30), (1, 1)])
def test_small_or_thin_matrices_keep_numpy_copy(shape):
    a = RNG.standard_normal(shape).astype(np.float32)
    assert not T.takes(a, np.empty(shape[::-1], np.float32))
    np.testing.assert_array_equal(T.transpose(a), a.T)


def test_other_dtypes_strides_and_kernels_off_fall_back_to_numpy():
    a64 = RNG.standard_normal((300, 200))
    assert T.transpose(a64).dtype == np.float64
    np.testing.assert_array_equal(T.transpose(a64), a64.T)
    a = RNG.standard_normal((400, 300)).astype(np.float32)
    view = a[:, ::2]
    assert not T.takes(view, np.empty(view.shape[::-1], np.float32))
    np.testing.assert_array_equal(T.transpose(view), view.T)
    with kernels.disabled():
        assert not T.takes(a, np.empty((300, 400), np.float32))
        np.testing.assert_array_equal(T.transpose(a), a.T)
    out = T.transpose(a)
    assert out.flags.c_contiguous and out.shape == (300, 400)


def test_wrong_output_shape_is_one_line_error():
    with pytest.raises(ValueError, match=r"out must have shape \(3, 2\)") as info:
        T.transpose_into(np.zeros((2, 3), np.float32), np.zeros((2, 3), np.float32))
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("shape", [(64, 3, 32, 32), (100, 3, 33, 35), (5, 2, 3, 3)])
def test_batch_innermost_layout_by_either_copy(shape):
    x = RNG.standard_normal(shape).astype(np.float32)
    m = batch_innermost(x)
    assert m.shape == (shape[1], shape[2], shape[3], shape[0]) and m.flags.c_contiguous
    np.testing.assert_array_equal(m, x.transpose(1, 2, 3, 0))
    with kernels.disabled():
        np.testing.assert_array_equal(batch_innermost(x), m)
