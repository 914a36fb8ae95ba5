"""MultiheadAttention and scaled_dot_product_attention against PyTorch (same weights, outputs, attention
weights, input and parameter gradients) with padding masks, boolean and float attention masks and causal
masks; gradcheck in float64."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import descend
import descend.nn as nn
import descend.nn.functional as F

RNG = np.random.default_rng(11)
E, H, L, S, N = 8, 2, 4, 5, 3


def _pair(shape):
    x = RNG.standard_normal(shape)
    return descend.tensor(x, requires_grad=True, dtype="float64"), torch.tensor(x, requires_grad=True)


def _models(**kwargs):
    torch.manual_seed(0)
    tm = torch.nn.MultiheadAttention(E, H, **kwargs).double()
    dm = nn.MultiheadAttention(E, H, dtype="float64", **kwargs)
    dm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    return dm, tm


def _close(d, t, atol=1e-12):
    np.testing.assert_allclose(d.array, t.detach().numpy(), atol=atol)


def _grads_close(dm, tm, pairs):
    for d, t in pairs:
        np.testing.assert_allclose(d.grad.array, t.grad.numpy(), atol=1e-10)
    dparams = dict(dm.named_parameters())
    for name, p in tm.named_parameters():
        np.testing.assert_allclose(dparams[name].grad.array, p.grad.numpy(), atol=1e-10, err_msg=name)


def _masks(kind):
    """(descend mask, torch mask) for the attention mask kinds the tests cover."""
    if kind == "none":
        return None, None
    if kind == "bool":
        m = RNG.random((L, S)) < 0.3
        m[:, 0] = False  # every query keeps a key
        return m, torch.tensor(m)
    if kind == "float":
        m = RNG.standard_normal((L, S))
        return m, torch.tensor(m)
    m = RNG.standard_normal((N * H, L, S))  # "float3d": one mask per (sample, head)
    return m, torch.tensor(m)


@pytest.mark.parametrize("mask_kind", ["none", "bool", "float", "float3d"])
@pytest.mark.parametrize("padding", [False, True])
@pytest.mark.parametrize("average", [True, False])
def test_multihead_attention_matches_torch(mask_kind, padding, average):
    dm, tm = _models()
    (dq, tq), (dk, tk), (dv, tv) = _pair((L, N, E)), _pair((S, N, E)), _pair((S, N, E))
    dmask, tmask = _masks(mask_kind)
    kpm = None
    if padding:
        kpm = np.zeros((N, S), bool)
        kpm[0, -2:] = True
        kpm[2, -1] = True
    dout, dw = dm(dq, dk, dv, key_padding_mask=kpm, attn_mask=dmask, average_attn_weights=average)
    tout, tw = tm(tq, tk, tv, key_padding_mask=None if kpm is None else torch.tensor(kpm), attn_mask=tmask,
                  average_attn_weights=average)
    _close(dout, tout)
    _close(dw, tw)
    assert dw.shape == ((N, L, S) if average else (N, H, L, S))
    g = RNG.standard_normal(dout.shape)
    ((dout * g).sum() + (dw * dw).sum()).backward()
    ((tout * torch.tensor(g)).sum() + (tw * tw).sum()).backward()
    _grads_close(dm, tm, [(dq, tq), (dk, tk), (dv, tv)])


@pytest.mark.parametrize("kwargs", [dict(add_bias_kv=True), dict(add_zero_attn=True), dict(kdim=6, vdim=7),
                                    dict(bias=False), dict(batch_first=True)])
def test_multihead_attention_options_match_torch(kwargs):
    dm, tm = _models(**kwargs)
    assert list(dm.state_dict()) == list(tm.state_dict())
    bf = kwargs.get("batch_first", False)
    kd, vd = kwargs.get("kdim", E), kwargs.get("vdim", E)
    shape = (lambda T, F: (N, T, F)) if bf else (lambda T, F: (T, N, F))
    (dq, tq), (dk, tk), (dv, tv) = _pair(shape(L, E)), _pair(shape(S, kd)), _pair(shape(S, vd))
    kpm = np.zeros((N, S), bool)
    kpm[1, -1] = True
    dout, dw = dm(dq, dk, dv, key_padding_mask=kpm)
    tout, tw = tm(tq, tk, tv, key_padding_mask=torch.tensor(kpm))
    _close(dout, tout)
    _close(dw, tw)
    (dout.sum() + dw.sum()).backward()
    (tout.sum() + tw.sum()).backward()
    _grads_close(dm, tm, [(dq, tq), (dk, tk), (dv, tv)])


def test_self_attention_with_causal_mask_and_no_weights_matches_torch():
    dm, tm = _models()
    dx, tx = _pair((L, N, E))
    mask = nn.Transformer.generate_square_subsequent_mask(L, dtype="float64")
    dout, dw = dm(dx, dx, dx, attn_mask=mask, need_weights=False, is_causal=True)
    tout, tw = tm(tx, tx, tx, attn_mask=torch.nn.Transformer.generate_square_subsequent_mask(L, dtype=torch.float64),
                  need_weights=False, is_causal=True)
    assert dw is None and tw is None
    _close(dout, tout)
    dout.sum().backward()
    tout.sum().backward()
    _grads_close(dm, tm, [(dx, tx)])


def test_unbatched_attention_matches_torch():
    dm, tm = _models()
    dx, tx = _pair((L, E))
    dout, dw = dm(dx, dx, dx)
    tout, tw = tm(tx, tx, tx)
    assert dout.shape == (L, E) and dw.shape == (L, L)
    _close(dout, tout)
    _close(dw, tw)


def test_is_causal_without_a_mask_is_rejected_with_a_hint():
    dm, _ = _models()
    x = descend.zeros(L, N, E, dtype="float64")
    with pytest.raises(ValueError, match="generate_square_subsequent_mask"):
        dm(x, x, x, is_causal=True)


def test_attention_init_is_torchs():
    m = nn.MultiheadAttention(16, 4, add_bias_kv=True)
    bound = np.sqrt(6 / (16 + 48))
    w = m.in_proj_weight.array
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert not m.in_proj_bias.array.any() and not m.out_proj.bias.array.any()
    assert m.bias_k.shape == (1, 1, 16)


@pytest.mark.parametrize("mask_kind", ["none", "bool", "float", "causal"])
def test_scaled_dot_product_attention_matches_torch(mask_kind):
    (dq, tq), (dk, tk), (dv, tv) = _pair((2, 3, L, 4)), _pair((2, 3, S, 4)), _pair((2, 3, S, 6))
    kw_d, kw_t = {}, {}
    if mask_kind == "bool":
        m = RNG.random((L, S)) > 0.3
        m[:, 0] = True
        kw_d, kw_t = dict(attn_mask=m), dict(attn_mask=torch.tensor(m))
    elif mask_kind == "float":
        m = RNG.standard_normal((3, L, S))
        kw_d, kw_t = dict(attn_mask=m), dict(attn_mask=torch.tensor(m))
    elif mask_kind == "causal":
        kw_d = kw_t = dict(is_causal=True)
    dout = F.scaled_dot_product_attention(dq, dk, dv, scale=0.3, **kw_d)
    tout = TF.scaled_dot_product_attention(tq, tk, tv, scale=0.3, **kw_t)
    _close(dout, tout)
    g = RNG.standard_normal(dout.shape)
    (dout * g).sum().backward()
    (tout * torch.tensor(g)).sum().backward()
    for d, t in ((dq, tq), (dk, tk), (dv, tv)):
        np.testing.assert_allclose(d.grad.array, t.grad.numpy(), atol=1e-10)


def test_scaled_dot_product_attention_dropout_keeps_rows_unbiased():
    q = descend.zeros(1, 64, 4)
    v = descend.tensor(np.ones((1, 64, 4), np.float32))
    descend.manual_seed(0)
    out = F.scaled_dot_product_attention(q, q, v, dropout_p=0.25)
    # uniform weights 1/64, each kept with prob 0.75 and scaled by 1/0.75: the mean output stays 1
    assert abs(out.array.mean() - 1.0) < 0.05
    assert out.array.std() > 0.05


def test_multihead_attention_passes_gradcheck():
    m = nn.MultiheadAttention(4, 2, dtype="float64", add_bias_kv=True)
    q = descend.tensor(RNG.standard_normal((3, 2, 4)), requires_grad=True, dtype="float64")
    kv = descend.tensor(RNG.standard_normal((2, 2, 4)), requires_grad=True, dtype="float64")
    kpm = np.array([[False, True], [False, False]])

    def fn(q, kv, *ps):
        out, w = m(q, kv, kv, key_padding_mask=kpm)
        return descend.cat([out.reshape(-1), w.reshape(-1)])

    assert descend.gradcheck(fn, [q, kv] + list(m.parameters()))


def test_scaled_dot_product_attention_passes_gradcheck():
    q, k, v = (descend.tensor(RNG.standard_normal(s), requires_grad=True, dtype="float64")
               for s in ((2, 3, 2), (2, 4, 2), (2, 4, 3)))
    assert descend.gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True), [q, k, v])


@pytest.mark.parametrize("need_weights", [True, False])
def test_fully_masked_query_gives_torchs_result(need_weights):
    """PyTorch: NaN when the weights are asked for, a zero attention result (safe softmax) otherwise."""
    dm, tm = _models()
    (dx, tx) = _pair((3, 2, E))
    kpm = np.array([[True, True, True], [False, True, False]])
    dout, _ = dm(dx, dx, dx, key_padding_mask=kpm, need_weights=need_weights)
    tout, _ = tm(tx, tx, tx, key_padding_mask=torch.tensor(kpm), need_weights=need_weights)
    np.testing.assert_allclose(dout.array, tout.detach().numpy(), atol=1e-12)  # NaN positions must agree too
    if not need_weights:
        dout.sum().backward()
        tout.sum().backward()
        _grads_close(dm, tm, [(dx, tx)])


def test_float32_attention_matches_torch_and_stays_float32():
    torch.manual_seed(1)
    tm = torch.nn.MultiheadAttention(E, H)
    dm = nn.MultiheadAttention(E, H)
    dm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    x = RNG.standard_normal((L, N, E)).astype(np.float32)
    mask = nn.Transformer.generate_square_subsequent_mask(L)
    dout, dw = dm(descend.tensor(x), descend.tensor(x), descend.tensor(x), attn_mask=mask)
    tout, tw = tm(*(torch.tensor(x),) * 3, attn_mask=torch.tensor(mask.array))
    assert dout.dtype == np.float32 and dw.dtype == np.float32
    np.testing.assert_allclose(dout.array, tout.detach().numpy(), atol=1e-6)
    np.testing.assert_allclose(dw.array, tw.detach().numpy(), atol=1e-6)


def test_attention_dropout_acts_in_training_only():
    m = nn.MultiheadAttention(E, H, dropout=0.5, dtype="float64")
    x = descend.tensor(RNG.standard_normal((L, N, E)), dtype="float64")
    descend.manual_seed(0)
    _, w_train = m(x, x, x, average_attn_weights=False)
    sums = w_train.array.sum(axis=-1)
    assert np.abs(sums - 1).max() > 0.1  # dropped and rescaled weights no longer sum to one
    m.eval()
    _, w_eval = m(x, x, x, average_attn_weights=False)
    np.testing.assert_allclose(w_eval.array.sum(axis=-1), 1.0)


def test_bad_arguments_name_the_value_and_fix():
    with pytest.raises(ValueError, match="divisible"):
        nn.MultiheadAttention(10, 3)
    m = nn.MultiheadAttention(E, H)
    x = descend.zeros(L, N, E)
    with pytest.raises(ValueError, match=r"\(4, 4\)"):
        m(x, x, x, attn_mask=np.zeros((3, 4), bool))
    with pytest.raises(ValueError, match="key_padding_mask"):
        m(x, x, x, key_padding_mask=np.zeros((N, 2), bool))
    with pytest.raises(ValueError, match="not both"):
        F.scaled_dot_product_attention(x, x, x, attn_mask=np.ones((N, N), bool), is_causal=True)
