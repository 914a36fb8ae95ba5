"""descend.Size against torch.Size: construction, equality with shapes, numel, slicing, +, errors."""

import numpy as np
import pytest
import torch

import descend


@pytest.mark.parametrize("sizes", [[2, 3], (4,), [], (1, 0, 5), [np.int64(3), 2]])
def test_size_matches_torch_size(sizes):
    d, t = descend.Size(sizes), torch.Size(sizes)
    assert d == t == tuple(int(n) for n in sizes) and d.numel() == t.numel()
    assert isinstance(d, tuple) and all(type(n) is int for n in d)
    assert d[1:] == t[1:] and isinstance(d[1:], descend.Size) and isinstance(d + (7,), descend.Size)
    assert list(d + (7,)) == list(t + (7,)) and list((7,) + d) == list((7,) + t)


def test_size_works_where_tutorials_use_it():
    x = descend.zeros(descend.Size([2, 3]))
    assert x.shape == descend.Size([2, 3]) and x.view(descend.Size([6])).shape == (6,)
    assert repr(descend.Size([2, 3])) == "Size([2, 3])"


@pytest.mark.parametrize("bad", [[2.5], ["a"], 3, [True]])
def test_size_rejects_non_int_items_in_one_line(bad):
    with pytest.raises(TypeError, match="iterable of ints"):
        descend.Size(bad)
