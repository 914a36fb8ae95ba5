"""descend.onnx.load of the exports with several inputs: attention with its masks, decoder layers and the
Transformer, recurrent layers with states and ``proj_size`` (Scan), cells and the sequence presets come back as
modules computing descend's outputs within 1e-5 on other batch sizes and lengths, and stay differentiable."""

import io

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="onnx is not installed (pip install 'descend[onnx]')")

import descend  # noqa: E402
from descend import nn  # noqa: E402
import descend.onnx as donnx  # noqa: E402
from descend.tensor import Tensor  # noqa: E402
from onnx_helpers import descend_outputs, graph_feed  # noqa: E402


def randn(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def check_round_trip(model, make, sizes):
    model.eval()
    buf = io.BytesIO()
    donnx.export(model, make(*sizes[0]), buf)
    loaded = donnx.load(buf.getvalue())
    for s in sizes:
        example = make(*s)
        with descend.no_grad():
            out = loaded(*[Tensor.from_array(a) for a in graph_feed(example)])
        got = [o.array for o in (out if isinstance(out, tuple) else (out,))]
        want = descend_outputs(model, example)
        assert len(got) == len(want)
        for a, b in zip(got, want):
            np.testing.assert_allclose(a, b, atol=1e-5, rtol=1e-5)
    return loaded


SIZES = [(3, 5, 4), (1, 2, 7), (4, 6, 3)]


@pytest.mark.parametrize("kw, call", [({}, {"mask": "bool"}), ({"kdim": 5, "vdim": 3}, {"mask": "float"}),
                                      ({"add_bias_kv": True, "add_zero_attn": True}, {"kpm": True}),
                                      ({"batch_first": True}, {"kpm": True, "need_weights": False}),
                                      ({}, {"average_attn_weights": False, "mask": "bool3d"})], ids=repr)
def test_attention_with_masks_round_trips(kw, call):
    m = nn.MultiheadAttention(8, 2, **kw)
    bf = kw.get("batch_first", False)

    def make(n, L, S, rng=np.random.default_rng(0)):
        def seq(t, f):
            return randn(rng, n, t, f) if bf else randn(rng, t, n, f)
        extra = {k: v for k, v in call.items() if k in ("need_weights", "average_attn_weights")}
        if call.get("mask") == "bool":
            extra["attn_mask"] = np.triu(np.ones((L, S), bool), 1)
        elif call.get("mask") == "float":
            extra["attn_mask"] = randn(rng, L, S)
        elif call.get("mask") == "bool3d":
            extra["attn_mask"] = rng.random((n * 2, L, S)) < 0.3
            extra["attn_mask"][..., 0] = False
        if call.get("kpm"):
            kpm = rng.random((n, S)) < 0.3
            kpm[:, 0] = call.get("need_weights", True)       # need_weights=False: whole rows masked too
            extra["key_padding_mask"] = kpm
        return seq(L, 8), seq(S, kw.get("kdim", 8)), seq(S, kw.get("vdim", 8)), extra
    check_round_trip(m, make, SIZES)


def test_transformer_with_causal_mask_round_trips_and_trains():
    model = nn.Transformer(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=8,
                           batch_first=True, norm_first=True)

    def make(n, T, S, rng=np.random.default_rng(1)):
        causal = donnx.Constant(nn.Transformer.generate_square_subsequent_mask(T))
        return randn(rng, n, S, 8), randn(rng, n, T, 8), {"tgt_mask": causal, "tgt_is_causal": True}
    loaded = check_round_trip(model, make, SIZES)
    src, tgt = (Tensor.from_array(a) for a in graph_feed(make(2, 3, 4)))
    (loaded(src, tgt) ** 2).mean().backward()
    weights = [p for attr, p in loaded.named_parameters()
               if loaded.onnx_names[attr].endswith(("weight", "weight_t", ".Wq", ".Wk", ".Wv"))]
    assert len(weights) == 23 and all(p.grad is not None and np.any(p.grad.array != 0) for p in weights)
    assert not any(np.isinf(p.array).any() for p in loaded.parameters())


@pytest.mark.parametrize("kw", [{"num_layers": 2, "bidirectional": True}, {"proj_size": 2, "bidirectional": True},
                                {"proj_size": 3, "num_layers": 2, "batch_first": True}], ids=repr)
def test_lstm_with_states_round_trips(kw):
    m = nn.LSTM(5, 4, **kw)
    LD, P = m.num_layers * m.num_directions, m.proj_size or 4

    def make(n, t, _, rng=np.random.default_rng(2)):
        x = randn(rng, n, t, 5) if m.batch_first else randn(rng, t, n, 5)
        return x, (randn(rng, LD, n, P), randn(rng, LD, n, 4))
    check_round_trip(m, make, SIZES)


@pytest.mark.parametrize("cls", [nn.GRU, nn.RNN, nn.GRUCell, nn.LSTMCell])
def test_gru_rnn_and_cells_with_states_round_trip(cls):
    m = cls(5, 4)
    rng = np.random.default_rng(3)

    def make(n, t, _):
        if cls in (nn.GRU, nn.RNN):
            return randn(rng, t, n, 5), randn(rng, 1, n, 4)
        h = randn(rng, n, 4)
        return randn(rng, n, 5), ((h, randn(rng, n, 4)) if cls is nn.LSTMCell else h)
    check_round_trip(m, make, SIZES)


@pytest.mark.parametrize("preset", ["lstm", "transformer"])
def test_language_model_presets_round_trip(preset):
    from descend.app import build_model, resolve_config
    cfg = resolve_config({"model": {"preset": preset, "hidden": [8], "heads": 2}})["model"]
    net = build_model(cfg, (10,), 7, per_step=True)
    rng = np.random.default_rng(4)
    check_round_trip(net, lambda n, t, _: rng.integers(0, 7, (n, t)).astype(np.int64), [(3, 10, 0), (2, 4, 0)])


def test_loaded_module_checks_its_number_of_inputs():
    m = nn.MultiheadAttention(4, 1).eval()
    x = np.zeros((2, 1, 4), np.float32)
    buf = io.BytesIO()
    donnx.export(m, (x, x, x), buf)
    with pytest.raises(ValueError, match=r"takes 3 inputs \(query, key, value\), got 1"):
        donnx.load(buf.getvalue())(Tensor.from_array(x))
