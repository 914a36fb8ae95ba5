"""nn.utils.rnn: pad_sequence, pack_padded_sequence, pad_packed_sequence, pack_sequence and their inverses
against torch.nn.utils.rnn (values, batch sizes, index orders, gradients)."""

import numpy as np
import pytest
import torch
import torch.nn.utils.rnn as trnn

import descend
from descend.nn.utils import rnn

RNG = np.random.default_rng(3)


def _seqs(lengths, feat=2):
    arrays = [RNG.standard_normal((n, feat)) for n in lengths]
    return ([descend.tensor(a, requires_grad=True, dtype="float64") for a in arrays],
            [torch.tensor(a, requires_grad=True) for a in arrays])


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_pad_sequence_matches_torch_with_gradients(batch_first, padding_side):
    ds, ts = _seqs([3, 5, 1])
    dp = rnn.pad_sequence(ds, batch_first=batch_first, padding_value=-2.0, padding_side=padding_side)
    tp = trnn.pad_sequence(ts, batch_first=batch_first, padding_value=-2.0, padding_side=padding_side)
    np.testing.assert_array_equal(dp.data, tp.detach().numpy())
    w = RNG.standard_normal(dp.shape)
    (dp * w).sum().backward()
    (tp * torch.tensor(w)).sum().backward()
    for d, t in zip(ds, ts):
        np.testing.assert_allclose(d.grad.array, t.grad.numpy())


@pytest.mark.parametrize("enforce_sorted", [True, False])
def test_pack_sequence_matches_torch_and_unpacks_to_the_inputs(enforce_sorted):
    lengths = [4, 3, 1] if enforce_sorted else [1, 4, 3]
    ds, ts = _seqs(lengths)
    dp = rnn.pack_sequence(ds, enforce_sorted=enforce_sorted)
    tp = trnn.pack_sequence(ts, enforce_sorted=enforce_sorted)
    np.testing.assert_array_equal(dp.data.array, tp.data.detach().numpy())
    np.testing.assert_array_equal(dp.batch_sizes.array, tp.batch_sizes.numpy())
    if enforce_sorted:
        assert dp.sorted_indices is None and tp.sorted_indices is None
    else:
        np.testing.assert_array_equal(dp.sorted_indices.array, tp.sorted_indices.numpy())
        np.testing.assert_array_equal(dp.unsorted_indices.array, tp.unsorted_indices.numpy())
    back = rnn.unpack_sequence(dp)
    for b, d in zip(back, ds):
        np.testing.assert_array_equal(b.array, d.array)
    (dp.data * dp.data).sum().backward()
    for d in ds:
        np.testing.assert_allclose(d.grad.array, 2 * d.array)


def test_pad_packed_sequence_total_length_and_batch_first_match_torch():
    x = RNG.standard_normal((2, 5, 3))
    dp = rnn.pack_padded_sequence(descend.tensor(x, dtype="float64"), [2, 5], batch_first=True,
                                  enforce_sorted=False)
    tp = trnn.pack_padded_sequence(torch.tensor(x), [2, 5], batch_first=True, enforce_sorted=False)
    dpad, dlen = rnn.pad_packed_sequence(dp, batch_first=True, total_length=7)
    tpad, tlen = trnn.pad_packed_sequence(tp, batch_first=True, total_length=7)
    np.testing.assert_array_equal(dpad.array, tpad.numpy())
    np.testing.assert_array_equal(dlen.array, tlen.numpy())
    with pytest.raises(ValueError, match="total_length"):
        rnn.pad_packed_sequence(dp, total_length=3)


def test_unpad_sequence_cuts_each_sequence_to_its_length():
    ds, _ = _seqs([2, 4])
    padded = rnn.pad_sequence(ds)
    pieces = rnn.unpad_sequence(padded, descend.tensor(np.array([2, 4])))
    assert [p.shape for p in pieces] == [(2, 2), (4, 2)]
    np.testing.assert_array_equal(pieces[1].array, ds[1].array)


def test_zero_length_is_rejected_with_a_hint():
    with pytest.raises(ValueError, match="at least 1"):
        rnn.pack_padded_sequence(descend.zeros(3, 2, 1), [3, 0])
