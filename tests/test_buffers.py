"""descend.buffers: recycled memory for large arrays — never handed out twice, reused once free."""

import gc
import threading

import numpy as np
import pytest

from descend import buffers


@pytest.fixture(autouse=True)
def fresh_pool():
    buffers.clear()
    yield
    buffers.clear()


def test_small_arrays_come_from_numpy_and_large_ones_from_the_pool():
    small = buffers.empty((10,), np.float32)
    assert small.base is None and buffers.stats()["buffers"] == 0
    big = buffers.empty((512, 512), np.float32)
    assert big.shape == (512, 512) and big.dtype == np.float32 and big.flags.c_contiguous
    assert buffers.stats()["buffers"] == 1 and buffers.stats()["in_use_bytes"] >= big.nbytes


def test_a_buffer_in_use_is_never_handed_out_again():
    a = buffers.empty((512, 512))
    a.fill(1.0)
    b = buffers.empty((512, 512))
    assert not np.shares_memory(a, b)
    b.fill(2.0)
    assert (a == 1.0).all()


def test_a_view_or_a_tensor_keeps_the_buffer_busy_and_its_release_frees_it():
    import descend
    a = buffers.empty((512, 512))
    view = a[::2]
    t = descend.Tensor.from_array(a[1:])
    del a
    b = buffers.empty((512, 512))
    assert not np.shares_memory(b, view) and not np.shares_memory(b, t.array)
    del view, t, b
    gc.collect()
    c = buffers.empty((512, 512))
    assert buffers.stats()["buffers"] == 2  # reused one of the two, made none
    del c


def test_a_free_buffer_is_reused_for_the_same_size_or_a_smaller_one_smallest_first():
    a = buffers.empty((256, 1024), np.float32)
    address = a.__array_interface__["data"][0]
    del a
    b = buffers.empty((1024, 256), np.float32)  # same bytes, other shape
    assert b.__array_interface__["data"][0] == address
    del b
    c = buffers.empty((100_000,), np.float64)  # 800 kB of the 1 MiB buffer
    assert c.__array_interface__["data"][0] == address and c.dtype == np.float64
    e = buffers.empty((70_000,), np.float32)  # 280 kB: a buffer of its own while the big one is busy
    e_address = e.__array_interface__["data"][0]
    del c, e
    d = buffers.empty((66_000,), np.float32)  # both idle: the smallest that fits is taken
    assert d.__array_interface__["data"][0] == e_address
    f = buffers.empty((140_000,), np.float32)  # 560 kB: then the big one (at most twice as large)
    assert f.__array_interface__["data"][0] == address
    assert buffers.stats()["buffers"] == 2


def test_a_buffer_more_than_twice_as_large_as_a_request_is_left_for_a_large_one():
    big = buffers.empty((1 << 20,), np.float32)  # 4 MiB
    big_address = big.__array_interface__["data"][0]
    del big
    small = buffers.empty((400_000,), np.float32)  # 1.6 MB: a fresh buffer, not the idle 4 MiB one
    assert small.__array_interface__["data"][0] != big_address
    large = buffers.empty((900_000,), np.float32)  # 3.6 MB: the idle 4 MiB one, no third buffer
    assert large.__array_interface__["data"][0] == big_address
    assert buffers.stats()["buffers"] == 2 and buffers.MAX_FIT == 2


def test_empty_like_keeps_a_transposed_layout_and_zeros_are_zero():
    a = np.zeros((8, 16, 32, 64), np.float32).transpose(3, 0, 1, 2)
    e = buffers.empty_like(a)
    assert e.shape == a.shape and e.strides == a.strides
    assert buffers.empty_like(a, np.bool_).strides == tuple(s // 4 for s in a.strides)
    z = buffers.zeros((300, 300))
    z2 = buffers.zeros((300, 300))
    assert not z.any() and not z2.any()


def test_copy_ordered_keeps_shape_and_values_in_the_asked_layout():
    g = np.random.default_rng(0).standard_normal((8, 16, 13, 13)).astype(np.float32)
    c = buffers.copy_ordered(g, [1, 2, 3, 0])
    assert c.shape == g.shape and buffers.stride_order(c) == [1, 2, 3, 0]
    assert c.transpose(1, 2, 3, 0).flags.c_contiguous and not np.shares_memory(c, g)
    np.testing.assert_array_equal(c, g)


def test_limit_drops_idle_buffers_and_clear_releases_them():
    buffers.set_limit(1 << 20)
    try:
        for n in range(5):  # five different sizes, each idle right after: the pool never holds much more
            a = buffers.empty((70_000 + 20_000 * n,), np.float32)
            del a
            assert buffers.stats()["held_bytes"] <= (1 << 20) + 4 * 150_000
        buffers.clear()
        assert buffers.stats() == {"buffers": 0, "held_bytes": 0, "in_use_bytes": 0, "limit_bytes": 1 << 20}
    finally:
        buffers.set_limit(256 << 20)
    with pytest.raises(ValueError, match="nbytes must be an int >= 0"):
        buffers.set_limit(-1)


def test_threads_taking_buffers_at_once_never_share_one():
    errors = []

    def work(k):
        live = []  # each thread keeps 8 arrays alive, filled with its own mark, and checks them later
        for i in range(60):
            a = buffers.empty((300, 300), np.float32)
            a.fill(k * 1000 + i)
            live.append((a, k * 1000 + i))
            if len(live) > 8:
                old, mark = live.pop(0)
                if not (old == mark).all():
                    errors.append((k, mark))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
