"""RNN, LSTM, GRU and their cells against PyTorch with the same weights (state dict torch -> NumPy ->
descend): outputs, final states, input/state/parameter gradients; packed and padded batches; gradcheck;
a short learning run."""

import numpy as np
import pytest
import torch

import descend
import descend.nn as nn
from descend.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

RNG = np.random.default_rng(7)


def _copy(tm, dm):
    dm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})


def _pair(shape, dtype=np.float64):
    x = RNG.standard_normal(shape).astype(dtype)
    return descend.tensor(x, requires_grad=True, dtype=x.dtype), torch.tensor(x, requires_grad=True)


def _models(kind, *args, dtype="float64", **kwargs):
    torch.manual_seed(0)
    tm = getattr(torch.nn, kind)(*args, **kwargs)
    tm = tm.double() if dtype == "float64" else tm
    dm = getattr(nn, kind)(*args, dtype=dtype, **kwargs)
    _copy(tm, dm)
    return dm, tm


def _loss_pieces(out, state, lstm):
    """A loss that reaches the output and every final state through different weights."""
    h, c = state if lstm else (state, None)
    total = (out * out).sum() + (h * 3.0).sum()
    if c is not None:
        total = total + (c * c * 0.5).sum()
    return total


def _check_grads(dm, tm, pairs, atol=1e-9):
    for d, t in pairs:
        np.testing.assert_allclose(d.grad.array, t.grad.numpy(), atol=atol, rtol=1e-6)
    dparams = dict(dm.named_parameters())
    for name, p in tm.named_parameters():
        np.testing.assert_allclose(dparams[name].grad.array, p.grad.numpy(), atol=atol, rtol=1e-6, err_msg=name)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("with_state", [False, True])
def test_recurrent_layer_matches_torch(kind, bidirectional, batch_first, with_state):
    dm, tm = _models(kind, 5, 4, num_layers=2, bidirectional=bidirectional, batch_first=batch_first)
    T, N, D = 6, 3, 2 if bidirectional else 1
    dx, tx = _pair((N, T, 5) if batch_first else (T, N, 5))
    lstm = kind == "LSTM"
    dstate = tstate = None
    pairs = [(dx, tx)]
    if with_state:
        dh, th = _pair((2 * D, N, 4))
        pairs.append((dh, th))
        dstate, tstate = dh, th
        if lstm:
            dc, tc = _pair((2 * D, N, 4))
            pairs.append((dc, tc))
            dstate, tstate = (dh, dc), (th, tc)
    dout, dfin = dm(dx, dstate)
    tout, tfin = tm(tx, tstate)
    np.testing.assert_allclose(dout.array, tout.detach().numpy(), atol=1e-12)
    for d, t in zip(dfin if lstm else (dfin,), tfin if lstm else (tfin,)):
        np.testing.assert_allclose(d.array, t.detach().numpy(), atol=1e-12)
    _loss_pieces(dout, dfin, lstm).backward()
    _loss_pieces(tout, tfin, lstm).backward()
    _check_grads(dm, tm, pairs)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_recurrent_layer_float32_matches_torch_and_stays_float32(kind):
    dm, tm = _models(kind, 3, 8, dtype="float32")
    dx, tx = _pair((5, 2, 3), np.float32)
    dout, _ = dm(dx)
    tout, _ = tm(tx)
    assert dout.dtype == np.float32
    np.testing.assert_allclose(dout.array, tout.detach().numpy(), atol=1e-6)
    dout.sum().backward()
    tout.sum().backward()
    assert dx.grad.array.dtype == np.float32
    np.testing.assert_allclose(dx.grad.array, tx.grad.numpy(), atol=1e-5)


def test_rnn_relu_and_no_bias_match_torch():
    dm, tm = _models("RNN", 4, 5, nonlinearity="relu", bias=False, num_layers=2)
    assert "bias_ih_l0" not in dict(dm.named_parameters())
    dx, tx = _pair((7, 2, 4))
    dout, dh = dm(dx)
    tout, th = tm(tx)
    np.testing.assert_allclose(dout.array, tout.detach().numpy(), atol=1e-12)
    (dout.sum() + dh.sum()).backward()
    (tout.sum() + th.sum()).backward()
    _check_grads(dm, tm, [(dx, tx)])


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_unbatched_input_matches_torch(kind):
    dm, tm = _models(kind, 3, 4, bidirectional=True)
    dx, tx = _pair((5, 3))
    dh, th = _pair((2, 4))
    lstm = kind == "LSTM"
    dstate, tstate = ((dh, dh * 0.5), (th, th * 0.5)) if lstm else (dh, th)
    dout, dfin = dm(dx, dstate)
    tout, tfin = tm(tx, tstate)
    assert dout.shape == (5, 8)
    np.testing.assert_allclose(dout.array, tout.detach().numpy(), atol=1e-12)
    _loss_pieces(dout, dfin, lstm).backward()
    _loss_pieces(tout, tfin, lstm).backward()
    _check_grads(dm, tm, [(dx, tx), (dh, th)])


def test_parameter_names_shapes_and_init_bound_are_torchs():
    for kind, gates in (("RNN", 1), ("LSTM", 4), ("GRU", 3)):
        dm = getattr(nn, kind)(6, 5, num_layers=2, bidirectional=True)
        tm = getattr(torch.nn, kind)(6, 5, num_layers=2, bidirectional=True)
        assert list(dm.state_dict()) == list(tm.state_dict())
        for k, v in tm.state_dict().items():
            assert dm.state_dict()[k].shape == tuple(v.shape)
        assert dm.weight_hh_l1_reverse.shape == (gates * 5, 5)
        values = np.concatenate([p.array.ravel() for p in dm.parameters()])
        bound = 1 / np.sqrt(5)
        assert np.abs(values).max() <= bound and np.abs(values).max() > 0.9 * bound


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("enforce_sorted", [True, False])
def test_packed_sequence_matches_torch(kind, bidirectional, enforce_sorted):
    dm, tm = _models(kind, 3, 4, num_layers=2, bidirectional=bidirectional)
    lengths = [5, 4, 2, 1] if enforce_sorted else [2, 5, 1, 4]
    dx, tx = _pair((5, 4, 3))
    lstm = kind == "LSTM"
    dp = pack_padded_sequence(dx, lengths, enforce_sorted=enforce_sorted)
    tp = torch.nn.utils.rnn.pack_padded_sequence(tx, lengths, enforce_sorted=enforce_sorted)
    np.testing.assert_array_equal(dp.batch_sizes.array, tp.batch_sizes.numpy())
    np.testing.assert_allclose(dp.data.array, tp.data.detach().numpy())
    dout, dfin = dm(dp)
    tout, tfin = tm(tp)
    np.testing.assert_allclose(dout.data.array, tout.data.detach().numpy(), atol=1e-12)
    for d, t in zip(dfin if lstm else (dfin,), tfin if lstm else (tfin,)):
        np.testing.assert_allclose(d.array, t.detach().numpy(), atol=1e-12)
    dpad, dlen = pad_packed_sequence(dout, batch_first=True, padding_value=-1.0)
    tpad, tlen = torch.nn.utils.rnn.pad_packed_sequence(tout, batch_first=True, padding_value=-1.0)
    np.testing.assert_allclose(dpad.array, tpad.detach().numpy(), atol=1e-12)
    np.testing.assert_array_equal(dlen.array, tlen.numpy())
    w = RNG.standard_normal(dpad.shape)
    ((dpad * w).sum() + _loss_pieces(dpad[:, :1], dfin, lstm)).backward()
    ((tpad * torch.tensor(w)).sum() + _loss_pieces(tpad[:, :1], tfin, lstm)).backward()
    _check_grads(dm, tm, [(dx, tx)])


def test_packed_with_initial_state_unsorted_matches_torch():
    dm, tm = _models("LSTM", 3, 4, bidirectional=True)
    lengths = [2, 5, 3]
    dx, tx = _pair((5, 3, 3))
    dh, th = _pair((2, 3, 4))
    dc, tc = _pair((2, 3, 4))
    dout, (dhn, dcn) = dm(pack_padded_sequence(dx, lengths, enforce_sorted=False), (dh, dc))
    tout, (thn, tcn) = tm(torch.nn.utils.rnn.pack_padded_sequence(tx, lengths, enforce_sorted=False), (th, tc))
    np.testing.assert_allclose(dhn.array, thn.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(dcn.array, tcn.detach().numpy(), atol=1e-12)
    (dout.data.sum() + (dhn * dcn).sum()).backward()
    (tout.data.sum() + (thn * tcn).sum()).backward()
    _check_grads(dm, tm, [(dx, tx), (dh, th), (dc, tc)])


def test_pack_padded_sequence_rejects_unsorted_lengths_when_enforced():
    with pytest.raises(ValueError, match="decreasing"):
        pack_padded_sequence(descend.zeros(4, 2, 1), [2, 4])


def test_wrong_state_shape_names_the_expected_shape():
    with pytest.raises(ValueError, match=r"\(2, 3, 4\)"):
        nn.GRU(2, 4, num_layers=2)(descend.zeros(5, 3, 2), descend.zeros(1, 3, 4))


@pytest.mark.parametrize("kind", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cell_matches_torch(kind):
    dm, tm = _models(kind, 4, 3)
    dx, tx = _pair((2, 4))
    dh, th = _pair((2, 3))
    lstm = kind == "LSTMCell"
    dout = dm(dx, (dh, dh * 2.0) if lstm else dh)
    tout = tm(tx, (th, th * 2.0) if lstm else th)
    d1, t1 = (dout[0] * dout[1], tout[0] * tout[1]) if lstm else (dout, tout)
    np.testing.assert_allclose(d1.array, t1.detach().numpy(), atol=1e-12)
    (d1 * d1).sum().backward()
    (t1 * t1).sum().backward()
    _check_grads(dm, tm, [(dx, tx), (dh, th)])
    unbatched = dm(dx[0])
    assert (unbatched[0] if lstm else unbatched).shape == (3,)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_sequence_node_passes_gradcheck_with_lengths(kind):
    m = getattr(nn, kind)(2, 3, bidirectional=True, dtype="float64")
    x = descend.tensor(RNG.standard_normal((4, 2, 2)), requires_grad=True, dtype="float64")
    h0 = descend.tensor(RNG.standard_normal((2, 2, 3)), requires_grad=True, dtype="float64")
    params = list(m.parameters())[:4]
    state = (lambda h: (h, h * 0.5)) if kind == "LSTM" else (lambda h: h)

    def fn(x, h0, *ps):
        out, fin = m(pack_padded_sequence(x, [4, 2]), state(h0))
        h = fin[0] + fin[1] if kind == "LSTM" else fin
        return descend.cat([out.data.reshape(-1), h.reshape(-1)])

    assert descend.gradcheck(fn, [x, h0] + params)


@pytest.mark.parametrize("kind", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cell_passes_gradcheck(kind):
    m = getattr(nn, kind)(2, 3, dtype="float64")
    x = descend.tensor(RNG.standard_normal((2, 2)), requires_grad=True, dtype="float64")
    h = descend.tensor(RNG.standard_normal((2, 3)), requires_grad=True, dtype="float64")

    def fn(x, h, *ps):
        out = m(x, (h, h * 2.0)) if kind == "LSTMCell" else m(x, h)
        return out[0] * out[1] if kind == "LSTMCell" else out

    assert descend.gradcheck(fn, [x, h] + list(m.parameters()))


def test_lstm_learns_to_sum_a_short_sequence():
    descend.manual_seed(0)
    lstm, head = nn.LSTM(1, 16, batch_first=True), nn.Linear(16, 1)
    params = list(lstm.parameters()) + list(head.parameters())
    opt = descend.optim.Adam(params, lr=0.02)
    rng = np.random.default_rng(0)
    losses = []
    for _ in range(150):
        x = rng.uniform(-1, 1, (32, 5, 1)).astype(np.float32)
        y = x.sum(axis=1)
        out, _ = lstm(descend.tensor(x))
        loss = ((head(out[:, -1]) - descend.tensor(y)) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.mean(losses[:5]) > 1.0
    assert np.mean(losses[-10:]) < 0.1 * np.mean(losses[:5])


def test_dropout_between_layers_acts_in_training_only():
    dm, tm = _models("LSTM", 3, 16, num_layers=2, dropout=0.5)
    x = descend.tensor(RNG.standard_normal((4, 2, 3)), dtype="float64")
    descend.manual_seed(0)
    a, _ = dm(x)
    b, _ = dm(x)
    assert np.abs(a.array - b.array).max() > 1e-3  # fresh masks each call
    dm.eval()
    tm.eval()
    c, _ = dm(x)
    np.testing.assert_allclose(c.array, tm(torch.tensor(x.array))[0].detach().numpy(), atol=1e-12)


@pytest.mark.parametrize("packed", [False, True])
def test_lstm_with_proj_size_matches_torch(packed):
    dm, tm = _models("LSTM", 3, 5, num_layers=2, bidirectional=True, proj_size=2)
    assert list(dm.state_dict()) == list(tm.state_dict())
    assert dm.weight_hr_l1_reverse.shape == (2, 5) and dm.weight_ih_l1.shape == (20, 4)
    dx, tx = _pair((6, 3, 3))
    dh, th = _pair((4, 3, 2))
    dc, tc = _pair((4, 3, 5))
    if packed:
        lengths = [3, 6, 4]
        din = pack_padded_sequence(dx, lengths, enforce_sorted=False)
        tin = torch.nn.utils.rnn.pack_padded_sequence(tx, lengths, enforce_sorted=False)
    else:
        din, tin = dx, tx
    dout, dfin = dm(din, (dh, dc))
    tout, tfin = tm(tin, (th, tc))
    dout, tout = (dout.data, tout.data) if packed else (dout, tout)
    np.testing.assert_allclose(dout.array, tout.detach().numpy(), atol=1e-12)
    for d, t in zip(dfin, tfin):
        np.testing.assert_allclose(d.array, t.detach().numpy(), atol=1e-12)
    _loss_pieces(dout, dfin, True).backward()
    _loss_pieces(tout, tfin, True).backward()
    _check_grads(dm, tm, [(dx, tx), (dh, th), (dc, tc)])


def test_lstm_projection_passes_gradcheck():
    m = nn.LSTM(2, 3, proj_size=2, dtype="float64")
    x = descend.tensor(RNG.standard_normal((3, 2, 2)), requires_grad=True, dtype="float64")

    def fn(x, *ps):
        out, (h, c) = m(x)
        return descend.cat([out.reshape(-1), c.reshape(-1)])

    assert descend.gradcheck(fn, [x] + list(m.parameters()))


def test_all_weights_and_flatten_parameters_follow_torch():
    m = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    m.flatten_parameters()
    assert len(m.all_weights) == 4 and m.all_weights[3][1] is m.weight_hh_l1_reverse


def test_docs_sequence_example_runs_with_the_shapes_it_states():
    import pathlib
    import re
    text = (pathlib.Path(__file__).parent.parent / "docs" / "sequence.md").read_text()
    namespace = {}
    exec(re.findall(r"```python\n(.*?)```", text, re.S)[0], namespace)
    assert namespace["out"].shape == (4, 10, 64) and namespace["h_n"].shape == (4, 4, 32)
    padded, lengths = namespace["padded"], namespace["lengths"]
    assert padded.shape == (4, 10, 64) and lengths.tolist() == [10, 7, 7, 3]
    assert not padded.array[3, 3:].any()  # zeros past each length
