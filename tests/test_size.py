"""descend.Size against torch.Size: what ``x.shape`` / ``x.size()`` return, tuple behaviour, numel, slicing,
concatenation and repetition staying a Size, printing, and the argument checks."""

import pickle

import numpy as np
import pytest
import torch

import descend


@pytest.mark.parametrize("shape", [(), (3,), (2, 3), (4, 1, 5, 2), (0, 3)])
def test_shape_and_size_are_a_size_equal_to_torchs(shape):
    x, t = descend.zeros(shape), torch.zeros(shape)
    for ours, theirs in ((x.shape, t.shape), (x.size(), t.size())):
        assert type(ours) is descend.Size and isinstance(ours, tuple) and isinstance(theirs, tuple)
        assert ours == theirs == shape and tuple(ours) == tuple(theirs)
        assert hash(ours) == hash(theirs) == hash(shape)
        assert ours.numel() == theirs.numel() == int(np.prod(shape, dtype=np.int64))
    assert [x.size(d) for d in range(len(shape))] == [t.size(d) for d in range(len(shape))]


def test_size_slicing_adding_and_repeating_give_sizes_like_torch():
    s, ts = descend.Size([2, 3, 4]), torch.Size([2, 3, 4])
    cases = [(s[1:], ts[1:]), (s[::-1], ts[::-1]), (s + (5,), ts + (5,)), ((5,) + s, (5,) + ts),
             (s * 2, ts * 2), (2 * s, 2 * ts), (s + s, ts + ts)]
    for ours, theirs in cases:
        assert type(ours) is descend.Size and type(theirs) is torch.Size and ours == theirs
    assert s[0] == ts[0] == 2 and type(s[0]) is int and s[-1] == 4
    a, b, c = s
    assert (a, b, c) == (2, 3, 4)


def test_size_prints_as_the_tuple_it_is():
    """descend prints shapes as tuples everywhere (messages, summaries); PyTorch's repr names its class."""
    assert repr(descend.Size([2, 3])) == str(descend.Size([2, 3])) == f"{descend.ones(2, 3).shape}" == "(2, 3)"
    assert repr(torch.Size([2, 3])) == "torch.Size([2, 3])"
    assert repr(descend.Size()) == "()" and descend.Size().numel() == torch.Size().numel() == 1


def test_size_is_accepted_wherever_a_shape_is():
    x = descend.ones(2, 3, 4)
    assert np.zeros(x.shape).shape == (2, 3, 4)
    assert descend.zeros(x.shape).shape == (2, 3, 4) and descend.randn(x.shape[1:]).shape == (3, 4)
    assert x.reshape(x.shape[0], -1).shape == (2, 12) and x.view(x.shape).shape == x.shape
    assert descend.Size(np.array([2, 3])) == (2, 3)  # NumPy integers are ints (__index__)


def test_size_rejects_non_integers_like_torch():
    with pytest.raises(TypeError, match=r"item 0 is 'float'"):
        descend.Size([2.5])
    with pytest.raises(TypeError, match=r"item 0 is 'float'"):
        torch.Size([2.5])
    with pytest.raises(TypeError, match="iterable"):
        descend.Size(3)


def test_size_pickles_as_a_size():
    s = pickle.loads(pickle.dumps(descend.Size([2, 3])))
    assert type(s) is descend.Size and s == (2, 3)
