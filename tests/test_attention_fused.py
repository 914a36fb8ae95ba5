"""The one-node multi-head attention (ops.attention.multi_head_attention / packed_self_attention) against
PyTorch, against its own NumPy path (kernels off) and against finite differences (float64)."""

import contextlib

import numpy as np
import pytest
import torch

import descend
from descend import kernels
from descend.ops.attention import (additive_mask, attention_with_weights, causal_mask, multi_head_attention,
                                   packed_self_attention)

KERNEL_MODES = ["kernels", "numpy"]


def _mode(mode):
    return contextlib.nullcontext() if mode == "kernels" else kernels.disabled()


def _split_torch(x, heads, batch_first):
    if batch_first:
        n, l, e = x.shape
        return x.reshape(n, l, heads, e // heads).transpose(1, 2)
    l, n, e = x.shape
    return x.reshape(l, n, heads, e // heads).permute(1, 2, 0, 3)


def _merge_torch(o, batch_first):
    n, h, l, d = o.shape
    return o.permute(0, 2, 1, 3).reshape(n, l, h * d) if batch_first else o.permute(2, 0, 1, 3).reshape(l, n, h * d)


def _torch_reference(q, k, v, heads, bias, batch_first, zero_dead, gw=None, go=None):
    """Output, weights and the q/k/v gradients of Σ go·out (+ Σ gw·weights) in PyTorch (float64 maths)."""
    tq, tk, tv = (torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (q, k, v))
    qh, kh, vh = (_split_torch(t, heads, batch_first) for t in (tq, tk, tv))
    s = qh @ kh.transpose(-1, -2) / np.sqrt(q.shape[-1] // heads)
    if bias is not None:
        s = s + torch.tensor(bias, dtype=torch.float64)
    p = torch.softmax(s, -1)
    if zero_dead:
        p = torch.where(torch.isnan(p), torch.zeros_like(p), p)
    out = _merge_torch(p @ vh, batch_first)
    loss = (out * torch.tensor(go, dtype=torch.float64)).sum()
    if gw is not None:
        loss = loss + (p * torch.tensor(gw, dtype=torch.float64)).sum()
    loss.backward()
    return [t.detach().numpy() for t in (out, p, tq.grad, tk.grad, tv.grad)]


def _inputs(rng, batch_first, L, S, N, E, Ev, dtype=np.float32):
    def shape(seq, e):
        return (N, seq, e) if batch_first else (seq, N, e)
    return (rng.standard_normal(shape(L, E)).astype(dtype), rng.standard_normal(shape(S, E)).astype(dtype),
            rng.standard_normal(shape(S, Ev)).astype(dtype), rng.standard_normal(shape(L, Ev)).astype(dtype))


def _masks(kind, rng, N, H, L, S):
    """An additive bias broadcastable to (N, H, L, S) built the way MultiheadAttention builds it."""
    if kind == "none":
        return None
    if kind == "bool":
        m = rng.random((L, S)) < 0.3
        m[:, 0] = False  # every query keeps a key
        return additive_mask(m, np.float32, allowed_when_true=False)
    if kind == "additive":
        return rng.standard_normal((N, H, L, S)).astype(np.float32)
    if kind == "key_padding":
        m = np.zeros((N, S), bool)
        m[0, S // 2:] = True
        return additive_mask(m, np.float32, allowed_when_true=False).reshape(N, 1, 1, S)
    if kind == "causal":
        return additive_mask(causal_mask(L, S), np.float32, allowed_when_true=True)
    raise AssertionError(kind)


@pytest.mark.parametrize("mode", KERNEL_MODES)
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("mask", ["none", "bool", "additive", "key_padding", "causal"])
@pytest.mark.parametrize("shape", [(6, 6, 3, 2, 8, 8), (5, 7, 2, 4, 16, 8)], ids=["L=S", "L!=S,Ev!=E"])
def test_multi_head_attention_matches_torch_values_weights_and_grads(mode, batch_first, mask, shape):
    L, S, N, H, E, Ev = shape
    if mask == "causal" and L > S:
        pytest.skip("a top-left causal mask with L > S leaves rows without keys (tested separately)")
    rng = np.random.default_rng(1)
    q, k, v, go = _inputs(rng, batch_first, L, S, N, E, Ev)
    bias = _masks(mask, rng, N, H, L, S)
    gw = rng.standard_normal((N, H, L, S)).astype(np.float32)
    Q, K, V = (descend.tensor(a, requires_grad=True) for a in (q, k, v))
    with _mode(mode):
        out, w = multi_head_attention(Q, K, V, H, bias, batch_first=batch_first, need_weights=True)
        ((out * descend.tensor(go)).sum() + (w * descend.tensor(gw)).sum()).backward()
    ref = _torch_reference(q, k, v, H, bias, batch_first, False, gw, go)
    for got, want in zip((out.array, w.array, Q.grad.array, K.grad.array, V.grad.array), ref):
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=2e-5)


@pytest.mark.parametrize("mode", KERNEL_MODES)
@pytest.mark.parametrize("zero_dead", [False, True])
def test_fully_masked_rows_are_nan_or_zero_with_finite_gradients(mode, zero_dead):
    rng = np.random.default_rng(2)
    L, S, N, H, E = 4, 5, 2, 2, 8
    q, k, v, go = _inputs(rng, True, L, S, N, E, E)
    blocked = np.zeros((N, S), bool)
    blocked[1] = True  # every key of sample 1 masked
    bias = additive_mask(blocked, np.float32, allowed_when_true=False).reshape(N, 1, 1, S)
    Q, K, V = (descend.tensor(a, requires_grad=True) for a in (q, k, v))
    with _mode(mode):
        out, _ = multi_head_attention(Q, K, V, H, bias, batch_first=True, masked_rows_to_zero=zero_dead)
        (out[0] * descend.tensor(go[0])).sum().backward()
    if zero_dead:
        np.testing.assert_array_equal(out.array[1], 0.0)
        assert np.isfinite(Q.grad.array).all() and np.isfinite(K.grad.array).all()
        ref = _torch_reference(q[:1], k[:1], v[:1], H, None, True, False, None, go[:1])
        for got, want in zip((Q.grad.array, K.grad.array, V.grad.array), ref[2:]):
            np.testing.assert_allclose(got[:1], want, rtol=1e-5, atol=2e-5)
            np.testing.assert_array_equal(got[1], 0.0)  # the dead sample: zero weights, no gradient
    else:
        assert np.isnan(out.array[1]).all()
    assert np.isfinite(out.array[0]).all()


@pytest.mark.parametrize("batch_first", [False, True])
def test_kernel_path_matches_numpy_path(batch_first):
    rng = np.random.default_rng(3)
    L, S, N, H, E = 9, 11, 3, 4, 16
    q, k, v, go = _inputs(rng, batch_first, L, S, N, E, E)
    bias = _masks("key_padding", rng, N, H, L, S) + _masks("bool", rng, N, H, L, S)
    results = []
    for mode in KERNEL_MODES:
        Q, K, V = (descend.tensor(a, requires_grad=True) for a in (q, k, v))
        with _mode(mode):
            out, _ = multi_head_attention(Q, K, V, H, bias, batch_first=batch_first)
            (out * descend.tensor(go)).sum().backward()
        results.append((out.array, Q.grad.array, K.grad.array, V.grad.array))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mode", KERNEL_MODES)
@pytest.mark.parametrize("batch_first", [False, True])
def test_packed_self_attention_matches_three_separate_inputs(mode, batch_first):
    rng = np.random.default_rng(4)
    L, N, H, E = 7, 3, 4, 16
    x = rng.standard_normal((N, L, 3 * E) if batch_first else (L, N, 3 * E)).astype(np.float32)
    go = rng.standard_normal(x.shape[:-1] + (E,)).astype(np.float32)
    gw = rng.standard_normal((N, H, L, L)).astype(np.float32)
    bias = _masks("causal", rng, N, H, L, L)
    X = descend.tensor(x, requires_grad=True)
    parts = [descend.tensor(np.ascontiguousarray(x[..., i * E:(i + 1) * E]), requires_grad=True) for i in range(3)]
    with _mode(mode):
        out_p, w_p = packed_self_attention(X, H, bias, batch_first=batch_first, need_weights=True)
        ((out_p * descend.tensor(go)).sum() + (w_p * descend.tensor(gw)).sum()).backward()
        out_s, w_s = multi_head_attention(*parts, H, bias, batch_first=batch_first, need_weights=True)
        ((out_s * descend.tensor(go)).sum() + (w_s * descend.tensor(gw)).sum()).backward()
    np.testing.assert_array_equal(out_p.array, out_s.array)
    np.testing.assert_array_equal(w_p.array, w_s.array)
    joined = np.concatenate([p.grad.array for p in parts], axis=-1)
    np.testing.assert_allclose(X.grad.array, joined, rtol=1e-6, atol=1e-7)


def test_weights_alone_back_propagate_to_query_and_key_only():
    rng = np.random.default_rng(5)
    q, k, v, _ = _inputs(rng, False, 4, 6, 2, 8, 8)
    gw = rng.standard_normal((2, 2, 4, 6)).astype(np.float32)
    Q, K, V = (descend.tensor(a, requires_grad=True) for a in (q, k, v))
    _, w = multi_head_attention(Q, K, V, 2, need_weights=True)
    (w * descend.tensor(gw)).sum().backward()
    ref = _torch_reference(q, k, v, 2, None, False, False, gw, np.zeros((4, 2, 8)))
    np.testing.assert_allclose(Q.grad.array, ref[2], rtol=1e-5, atol=2e-5)
    np.testing.assert_allclose(K.grad.array, ref[3], rtol=1e-5, atol=2e-5)
    assert V.grad is None


def test_multi_head_attention_agrees_with_the_composed_path():
    rng = np.random.default_rng(6)
    L, S, N, H, E = 5, 6, 2, 2, 8
    q, k, v, go = _inputs(rng, False, L, S, N, E, E)
    bias = _masks("additive", rng, N, H, L, S)
    Q, K, V = (descend.tensor(a, requires_grad=True) for a in (q, k, v))
    out, w = multi_head_attention(Q, K, V, H, bias, need_weights=True)
    heads = [descend.tensor(a.reshape(a.shape[0], N, H, E // H).transpose(1, 2, 0, 3)) for a in (q, k, v)]
    out_c, w_c = attention_with_weights(*heads, bias)
    np.testing.assert_allclose(out.array, out_c.array.transpose(2, 0, 1, 3).reshape(L, N, E), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(w.array, w_c.array, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("batch_first", [False, True])
def test_fused_attention_gradcheck_float64(batch_first):
    rng = np.random.default_rng(7)
    q, k, v, _ = _inputs(rng, batch_first, 3, 4, 2, 4, 6, np.float64)
    bias = np.where(rng.random((3, 4)) < 0.3, -np.inf, rng.standard_normal((3, 4)))
    bias[:, 0] = 0.0
    Q, K, V = (descend.tensor(a, dtype="float64", requires_grad=True) for a in (q, k, v))
    assert descend.gradcheck(lambda a, b, c: multi_head_attention(a, b, c, 2, bias, batch_first=batch_first)[0],
                             [Q, K, V])
    assert descend.gradcheck(lambda a, b, c: multi_head_attention(a, b, c, 2, bias, batch_first=batch_first,
                                                                  need_weights=True)[1], [Q, K, V])
    x = descend.tensor(rng.standard_normal((3, 2, 12)), dtype="float64", requires_grad=True)
    assert descend.gradcheck(lambda t: packed_self_attention(t, 2, bias[:, :3])[0], [x])
    assert descend.gradcheck(lambda t: packed_self_attention(t, 2, bias[:, :3], need_weights=True)[1], [x])


def test_fused_attention_rejects_bad_arguments():
    x = descend.randn(4, 2, 8)
    with pytest.raises(ValueError, match="num_heads"):
        multi_head_attention(x, x, x, 0)
    with pytest.raises(ValueError, match="divisible"):
        multi_head_attention(x, x, x, 3)
    with pytest.raises(ValueError, match="3-D"):
        multi_head_attention(descend.randn(4, 8), x, x, 2)
    with pytest.raises(TypeError, match="bias"):
        multi_head_attention(x, x, x, 2, descend.zeros(4, 4))
    with pytest.raises(ValueError, match="broadcast"):
        multi_head_attention(x, x, x, 2, np.zeros((3, 4), np.float32))
    with pytest.raises(ValueError, match="3·E"):
        packed_self_attention(descend.randn(4, 2, 10), 2)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("need_weights", [False, True])
def test_multihead_attention_module_fused_matches_torch_with_masks(batch_first, need_weights):
    torch.manual_seed(0)
    E, H, L, S, N = 16, 4, 5, 7, 3
    ref = torch.nn.MultiheadAttention(E, H, batch_first=batch_first)
    mha = descend.nn.MultiheadAttention(E, H, batch_first=batch_first)
    mha.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    rng = np.random.default_rng(8)
    shape = (lambda s: (N, s, E)) if batch_first else (lambda s: (s, N, E))
    q, kv = rng.standard_normal(shape(L)).astype(np.float32), rng.standard_normal(shape(S)).astype(np.float32)
    kpm = np.zeros((N, S), bool)
    kpm[1, -2:] = True
    attn = rng.random((L, S)) < 0.2
    attn[:, 0] = False
    tq, tkv = torch.tensor(q, requires_grad=True), torch.tensor(kv, requires_grad=True)
    want, want_w = ref(tq, tkv, tkv, key_padding_mask=torch.tensor(kpm), attn_mask=torch.tensor(attn),
                       need_weights=need_weights)
    Q, KV = descend.tensor(q, requires_grad=True), descend.tensor(kv, requires_grad=True)
    got, got_w = mha(Q, KV, KV, key_padding_mask=kpm, attn_mask=attn, need_weights=need_weights)
    want.sum().backward()
    got.sum().backward()
    np.testing.assert_allclose(got.array, want.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(Q.grad.array, tq.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(KV.grad.array, tkv.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(mha.in_proj_weight.grad.array, ref.in_proj_weight.grad.numpy(), rtol=1e-4, atol=1e-5)
    if need_weights:
        np.testing.assert_allclose(got_w.array, want_w.detach().numpy(), rtol=1e-5, atol=1e-6)
    else:
        assert got_w is None


@pytest.mark.parametrize("self_attention", [True, False])
def test_multihead_attention_module_fused_path_passes_gradcheck(self_attention):
    m = descend.nn.MultiheadAttention(4, 2, dtype="float64", batch_first=True)
    rng = np.random.default_rng(9)
    x = descend.tensor(rng.standard_normal((2, 3, 4)), dtype="float64", requires_grad=True)
    mem = descend.tensor(rng.standard_normal((2, 5, 4)), dtype="float64", requires_grad=True)
    kpm = np.array([[False] * 5, [False, False, False, True, True]])
    for which in (0, 1):  # the output (need_weights=False) and the head-averaged weights
        if self_attention:
            assert descend.gradcheck(lambda a: m(a, a, a, need_weights=bool(which))[which], [x])
        else:
            assert descend.gradcheck(lambda a, b: m(a, b, b, key_padding_mask=kpm)[which], [x, mem])
