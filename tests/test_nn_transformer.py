"""Transformer encoder/decoder layers, stacks and the full Transformer against PyTorch (same weights via the
state dict, eval mode), positional encodings, and a short learning run."""

import numpy as np
import pytest
import torch

import descend
import descend.nn as nn

RNG = np.random.default_rng(5)
D, NHEAD, FF, S, T, N = 8, 2, 16, 5, 4, 3


def _pair(shape):
    x = RNG.standard_normal(shape)
    return descend.tensor(x, requires_grad=True, dtype="float64"), torch.tensor(x, requires_grad=True)


def _sync(dm, tm):
    assert list(dm.state_dict()) == list(tm.state_dict())
    dm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    dm.eval()
    tm.eval()


def _grads_close(dm, tm, pairs, atol=1e-9):
    for d, t in pairs:
        np.testing.assert_allclose(d.grad.array, t.grad.numpy(), atol=atol)
    dparams = dict(dm.named_parameters())
    for name, p in tm.named_parameters():
        np.testing.assert_allclose(dparams[name].grad.array, p.grad.numpy(), atol=atol, err_msg=name)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_encoder_layer_matches_torch(norm_first, activation, batch_first):
    kw = dict(dim_feedforward=FF, activation=activation, norm_first=norm_first, batch_first=batch_first)
    tm = torch.nn.TransformerEncoderLayer(D, NHEAD, **kw).double()
    dm = nn.TransformerEncoderLayer(D, NHEAD, dtype="float64", **kw)
    _sync(dm, tm)
    dx, tx = _pair((N, S, D) if batch_first else (S, N, D))
    kpm = np.zeros((N, S), bool)
    kpm[1, -2:] = True
    dout = dm(dx, src_key_padding_mask=kpm)
    tout = tm(tx, src_key_padding_mask=torch.tensor(kpm))
    np.testing.assert_allclose(dout.array, tout.detach().numpy(), atol=1e-10)
    g = RNG.standard_normal(dout.shape)
    (dout * g).sum().backward()
    (tout * torch.tensor(g)).sum().backward()
    _grads_close(dm, tm, [(dx, tx)])


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_decoder_layer_matches_torch_with_causal_mask(norm_first, activation):
    kw = dict(dim_feedforward=FF, activation=activation, norm_first=norm_first)
    tm = torch.nn.TransformerDecoderLayer(D, NHEAD, **kw).double()
    dm = nn.TransformerDecoderLayer(D, NHEAD, dtype="float64", **kw)
    _sync(dm, tm)
    (dt, tt), (dmem, tmem) = _pair((T, N, D)), _pair((S, N, D))
    mask = torch.nn.Transformer.generate_square_subsequent_mask(T, dtype=torch.float64)
    mkpm = np.zeros((N, S), bool)
    mkpm[0, -1] = True
    dout = dm(dt, dmem, tgt_mask=mask.numpy(), memory_key_padding_mask=mkpm, tgt_is_causal=True)
    tout = tm(tt, tmem, tgt_mask=mask, memory_key_padding_mask=torch.tensor(mkpm), tgt_is_causal=True)
    np.testing.assert_allclose(dout.array, tout.detach().numpy(), atol=1e-10)
    g = RNG.standard_normal(dout.shape)
    (dout * g).sum().backward()
    (tout * torch.tensor(g)).sum().backward()
    _grads_close(dm, tm, [(dt, tt), (dmem, tmem)])


def test_callable_activation_is_used():
    tm = torch.nn.TransformerEncoderLayer(D, NHEAD, FF, activation=torch.nn.functional.silu).double()
    dm = nn.TransformerEncoderLayer(D, NHEAD, FF, activation=nn.SiLU(), dtype="float64")
    _sync(dm, tm)
    dx, tx = _pair((S, N, D))
    np.testing.assert_allclose(dm(dx).array, tm(tx).detach().numpy(), atol=1e-10)


def test_full_transformer_matches_torch():
    tm = torch.nn.Transformer(D, NHEAD, 2, 2, FF, batch_first=True).double()
    dm = nn.Transformer(D, NHEAD, 2, 2, FF, batch_first=True, dtype="float64")
    _sync(dm, tm)
    (ds, ts), (dt, tt) = _pair((N, S, D)), _pair((N, T, D))
    mask = nn.Transformer.generate_square_subsequent_mask(T, dtype="float64")
    skpm = np.zeros((N, S), bool)
    skpm[2, -2:] = True
    dout = dm(ds, dt, tgt_mask=mask, src_key_padding_mask=skpm, memory_key_padding_mask=skpm)
    tout = tm(ts, tt, tgt_mask=torch.tensor(mask.array), src_key_padding_mask=torch.tensor(skpm),
              memory_key_padding_mask=torch.tensor(skpm))
    np.testing.assert_allclose(dout.array, tout.detach().numpy(), atol=1e-10)
    (dout * dout).sum().backward()
    (tout * tout).sum().backward()
    _grads_close(dm, tm, [(ds, ts), (dt, tt)], atol=1e-8)


def test_stacks_are_independent_copies_and_transformer_init_is_xavier():
    layer = nn.TransformerEncoderLayer(D, NHEAD, FF)
    enc = nn.TransformerEncoder(layer, 3, norm=nn.LayerNorm(D))
    assert enc.layers[0].linear1.weight is not enc.layers[1].linear1.weight
    np.testing.assert_array_equal(enc.layers[0].linear1.weight.array, enc.layers[2].linear1.weight.array)
    assert "norm.weight" in enc.state_dict()
    model = nn.Transformer(D, NHEAD, 1, 1, FF)
    w = model.encoder.layers[0].linear1.weight.array  # (FF, D): xavier bound √(6/(D+FF))
    bound = np.sqrt(6 / (D + FF))
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound


def test_square_subsequent_mask_is_torchs():
    np.testing.assert_array_equal(nn.Transformer.generate_square_subsequent_mask(4).array,
                                  torch.nn.Transformer.generate_square_subsequent_mask(4).numpy())


def test_sinusoidal_encoding_follows_the_formula_and_is_not_in_the_state_dict():
    pe = nn.SinusoidalPositionalEncoding(6, max_len=10)
    out = pe(descend.zeros(4, 2, 6))
    t, i = 3, 1
    assert out.shape == (4, 2, 6)
    np.testing.assert_allclose(out.array[t, 1, 2 * i], np.sin(t / 10000 ** (2 * i / 6)), rtol=1e-6)
    np.testing.assert_allclose(out.array[t, 0, 2 * i + 1], np.cos(t / 10000 ** (2 * i / 6)), rtol=1e-6)
    assert list(pe.state_dict()) == []
    bf = nn.SinusoidalPositionalEncoding(6, max_len=10, batch_first=True)(descend.zeros(2, 4, 6))
    np.testing.assert_array_equal(bf.array[1], out.array[:, 1])
    with pytest.raises(ValueError, match="max_len"):
        pe(descend.zeros(11, 1, 6))


def test_learned_encoding_adds_a_trainable_table():
    pe = nn.LearnedPositionalEncoding(4, max_len=8)
    x = descend.tensor(RNG.standard_normal((5, 2, 4)).astype(np.float32))
    out = pe(x)
    np.testing.assert_allclose(out.array, x.array + pe.weight.array[:5, None], rtol=1e-6)
    out.sum().backward()
    np.testing.assert_array_equal(pe.weight.grad.array[:5], 2.0)
    np.testing.assert_array_equal(pe.weight.grad.array[5:], 0.0)


def test_encoder_learns_to_copy_the_token_under_a_shifted_position():
    """A one-layer encoder learns to output the token of the previous position (needs attention)."""
    descend.manual_seed(0)
    V, L = 6, 5
    emb, pos = nn.Embedding(V, 16), nn.LearnedPositionalEncoding(16, max_len=L, batch_first=True)
    enc = nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True)
    head = nn.Linear(16, V)
    params = [p for m in (emb, pos, enc, head) for p in m.parameters()]
    opt = descend.optim.Adam(params, lr=0.01)
    rng = np.random.default_rng(0)
    losses = []
    for _ in range(120):
        x = rng.integers(0, V, (32, L))
        y = np.roll(x, 1, axis=1)
        logits = head(enc(pos(emb(descend.tensor(x)))))
        loss = nn.functional.cross_entropy(logits[:, 1:].reshape(-1, V), descend.tensor(y[:, 1:].reshape(-1)))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.mean(losses[:5]) > 1.5
    assert np.mean(losses[-10:]) < 0.3 * np.mean(losses[:5])


def test_training_mode_dropout_changes_outputs_and_backward_reaches_every_parameter():
    model = nn.Transformer(D, NHEAD, 1, 1, FF, dropout=0.3)
    src, tgt = descend.zeros(S, N, D) + 0.5, descend.zeros(T, N, D) - 0.5
    descend.manual_seed(0)
    a = model(src, tgt)
    b = model(src, tgt)
    assert np.abs(a.array - b.array).max() > 1e-3
    (a * a).sum().backward()
    assert all(p.grad is not None and np.isfinite(p.grad.array).all() for p in model.parameters())


def test_encoder_layer_rejects_unknown_activation():
    with pytest.raises(ValueError, match="'relu', 'gelu'"):
        nn.TransformerEncoderLayer(D, NHEAD, activation="swishy")


def test_encoder_layer_relu_feed_forward_fused_equals_unfused_and_keeps_hooks():
    """With activation='relu' linear1 and the ReLU run as one linear_relu node: the output and every gradient
    equal, bit for bit, those of the same layer with the ReLU as a plain callable (not fused); a forward hook
    on linear1 still runs (the layer then takes the unfused path)."""
    rng = np.random.default_rng(11)
    x = rng.standard_normal((3, 5, 8)).astype(np.float32)
    fused = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
    plain = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True,
                                       activation=lambda t: descend.nn.functional.relu(t))
    plain.load_state_dict(fused.state_dict())
    outs = []
    for layer in (fused, plain):
        xt = descend.tensor(x, requires_grad=True)
        y = layer(xt)
        (y * y).sum().backward()
        outs.append((y.array, xt.grad.array, layer.linear1.weight.grad.array, layer.linear1.bias.grad.array))
    for a, b in zip(*outs):
        np.testing.assert_array_equal(a, b)
    seen = []
    fused.linear1.register_forward_hook(lambda m, args, out: seen.append(out.shape))
    y_hooked = fused(descend.tensor(x))
    assert seen == [(3, 5, 16)]
    np.testing.assert_array_equal(y_hooked.array, outs[0][0])
