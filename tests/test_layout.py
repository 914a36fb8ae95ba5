import numpy as np
import pytest

from descend import layout


def test_memory_order_of_transposed_c_and_vector_arrays():
    a = np.empty((3, 4), np.float32)
    assert layout.memory_order(a) == "C"
    assert layout.memory_order(a.T) == "F" and layout.is_transposed(a.T)
    assert layout.memory_order(np.empty(5)) == "C"
    assert layout.memory_order(np.empty((1, 5)).T) == "C"   # both C and F contiguous: C


def test_flat_view_shares_memory_in_memory_order():
    w = np.arange(12, dtype=np.float32).reshape(4, 3).T     # (3, 4) stored as the transpose
    flat = layout.flat_view(w)
    np.testing.assert_array_equal(flat, np.arange(12))       # memory order, not row order
    flat[5] = -1
    assert w[2, 1] == -1                                      # element 5 of memory is w[5 % 3, 5 // 3]
    back = layout.from_flat(flat, w.shape, layout.memory_order(w))
    assert np.shares_memory(back, w) and np.array_equal(back, w)


def test_flat_view_rejects_strided_slices():
    with pytest.raises(ValueError, match="not contiguous"):
        layout.flat_view(np.empty((4, 4))[:, ::2])
    with pytest.raises(ValueError, match="order"):
        layout.from_flat(np.empty(4), (2, 2), "K")
