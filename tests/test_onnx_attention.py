"""ONNX export of attention and transformers with several inputs: standalone MultiheadAttention (separate
query/key/value, kdim/vdim, need_weights, every mask kind as a graph input or a Constant), decoder layers,
decoder stacks and the full Transformer. Each passes onnx's full checker and onnxruntime equals descend's
eval output within 1e-5 on several batch sizes and sequence lengths through the symbolic axes."""

import io

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="onnx is not installed (pip install 'descend[onnx]')")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (the test extra)")

from descend import nn  # noqa: E402
import descend.onnx as donnx  # noqa: E402
from onnx_helpers import check_inputs, descend_outputs, dims, session  # noqa: E402

SIZES = [(3, 5, 4), (1, 2, 7), (6, 9, 3)]      # (batch, L, S)


def randn(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def seq(rng, n, t, f, batch_first):
    return randn(rng, n, t, f) if batch_first else randn(rng, t, n, f)


MHA_CASES = [({}, {}), ({"batch_first": True}, {}), ({"kdim": 5, "vdim": 3}, {}),
             ({"kdim": 5, "vdim": 3, "batch_first": True, "bias": False}, {"average_attn_weights": False}),
             ({}, {"need_weights": False}), ({"add_bias_kv": True}, {}), ({"add_zero_attn": True}, {}),
             ({"add_bias_kv": True, "add_zero_attn": True, "batch_first": True}, {"average_attn_weights": False})]


@pytest.mark.parametrize("kw, call", MHA_CASES, ids=repr)
def test_multihead_attention_with_separate_query_key_value_matches_onnxruntime(kw, call):
    m = nn.MultiheadAttention(8, 2, **kw)
    bf = kw.get("batch_first", False)

    def make(n, L, S, rng=np.random.default_rng(0)):
        return (seq(rng, n, L, 8, bf), seq(rng, n, S, kw.get("kdim", 8), bf), seq(rng, n, S, kw.get("vdim", 8), bf),
                dict(call))
    proto = check_inputs(m, make, SIZES)
    assert [i.name for i in proto.graph.input] == ["query", "key", "value"]
    outs = [o.name for o in proto.graph.output]
    assert outs == (["output"] if call.get("need_weights") is False else ["output", "attn_weights"])
    if len(outs) == 2:
        want = ["batch", "tgt_seq", "src_seq"] if call.get("average_attn_weights", True) else \
            ["batch", 2, "tgt_seq", "src_seq"]
        assert dims(proto.graph.output[1]) == want


def test_multihead_attention_on_unbatched_input_matches():
    m = nn.MultiheadAttention(8, 4, kdim=6, vdim=6)

    def make(avg, L, S, rng=np.random.default_rng(1)):
        return randn(rng, L, 8), randn(rng, S, 6), randn(rng, S, 6), {"average_attn_weights": avg}
    for avg in (True, False):
        proto = check_inputs(m, lambda n, L, S: make(avg, L, S), [(1, 5, 4), (1, 3, 8)])
        assert dims(proto.graph.input[0]) == ["tgt_seq", 8]
        assert dims(proto.graph.output[1]) == (["tgt_seq", "src_seq"] if avg else [4, "tgt_seq", "src_seq"])


def masks(rng, kind, n, L, S, heads=2):
    if kind == "bool":
        m = rng.random((L, S)) < 0.3
        m[:, 0] = False                 # no query loses every key (those rows are NaN with need_weights)
        return m
    if kind == "float":
        return randn(rng, L, S)
    if kind == "bool3d":
        m = rng.random((n * heads, L, S)) < 0.3
        m[..., 0] = False
        return m
    return randn(rng, n * heads, L, S)


@pytest.mark.parametrize("kind", ["bool", "float", "bool3d", "float3d"])
@pytest.mark.parametrize("need_weights", [True, False])
def test_attn_mask_as_a_graph_input_matches(kind, need_weights):
    m = nn.MultiheadAttention(8, 2, batch_first=True)

    def make(n, L, S, rng=np.random.default_rng(2)):
        return (randn(rng, n, L, 8), randn(rng, n, S, 8), randn(rng, n, S, 8),
                {"attn_mask": masks(rng, kind, n, L, S), "need_weights": need_weights})
    proto = check_inputs(m, make, SIZES)
    mask = proto.graph.input[3]
    assert mask.name == "attn_mask"
    assert dims(mask) == (["tgt_seq", "src_seq"] if kind in ("bool", "float")
                          else ["batch_heads", "tgt_seq", "src_seq"])
    assert mask.type.tensor_type.elem_type == (onnx.TensorProto.BOOL if kind.startswith("bool")
                                               else onnx.TensorProto.FLOAT)


@pytest.mark.parametrize("kind", ["bool", "float"])
def test_attn_mask_as_a_constant_is_stored_and_fixes_the_lengths(kind):
    m = nn.MultiheadAttention(8, 2)
    mask = masks(np.random.default_rng(3), kind, 1, 5, 4)

    def make(n, L, S, rng=np.random.default_rng(4)):
        return randn(rng, L, n, 8), randn(rng, S, n, 8), randn(rng, S, n, 8), {"attn_mask": donnx.Constant(mask)}
    proto = check_inputs(m, make, [(3, 5, 4), (1, 5, 4), (7, 5, 4)])
    assert [i.name for i in proto.graph.input] == ["query", "key", "value"]
    assert dims(proto.graph.input[0]) == [5, "batch", 8] and dims(proto.graph.input[1]) == [4, "batch", 8]


def test_key_padding_mask_as_a_graph_input_matches_with_and_without_weights():
    m = nn.MultiheadAttention(8, 2, kdim=4, vdim=4)

    def make(n, L, S, need, rng=np.random.default_rng(5)):
        kpm = rng.random((n, S)) < 0.4
        kpm[:, 0] = False
        if not need:
            kpm[0] = True               # a batch row with every key padded: zero output rows (need_weights=False)
        return randn(rng, L, n, 8), randn(rng, S, n, 4), randn(rng, S, n, 4), {"key_padding_mask": kpm,
                                                                               "need_weights": need}
    for need in (True, False):
        proto = check_inputs(m, lambda n, L, S: make(n, L, S, need), SIZES)
        assert dims(proto.graph.input[3]) == ["batch", "src_seq"]


def test_both_masks_as_graph_inputs_add_up():
    m = nn.MultiheadAttention(6, 3)

    def make(n, L, S, rng=np.random.default_rng(6)):
        kpm = rng.random((n, S)) < 0.3
        kpm[:, 0] = False
        return randn(rng, L, n, 6), randn(rng, S, n, 6), randn(rng, S, n, 6), {"attn_mask": randn(rng, L, S),
                                                                               "key_padding_mask": kpm}
    proto = check_inputs(m, make, SIZES, input_names=["q", "k", "v", "am", "kpm"])
    assert [i.name for i in proto.graph.input] == ["q", "k", "v", "am", "kpm"]


@pytest.mark.parametrize("kind", ["bool", "float"])
def test_causal_constant_mask_is_rebuilt_for_every_length(kind):
    m = nn.MultiheadAttention(8, 2, batch_first=True)

    def causal(L, S):
        blocked = np.triu(np.ones((L, S), bool), k=1)
        return blocked if kind == "bool" else np.where(blocked, -np.inf, 0.0).astype(np.float32)

    def make(n, L, S, rng=np.random.default_rng(7)):
        x = randn(rng, n, L, 8)
        return x, x, x, {"attn_mask": donnx.Constant(causal(L, L)), "is_causal": True}
    proto = check_inputs(m, make, SIZES)
    assert dims(proto.graph.input[0]) == ["batch", "tgt_seq", 8]
    assert not any(init.dims == [5, 5] for init in proto.graph.initializer)


def test_is_causal_without_a_mask_fails_as_in_descend():
    x = np.zeros((2, 3, 8), np.float32)
    with pytest.raises(ValueError, match="is_causal=True is a hint"):
        donnx.build_model_proto(nn.MultiheadAttention(8, 2), (x, x, x, {"is_causal": True}))


DECODER_LAYERS = [{}, {"norm_first": True}, {"activation": "gelu"}, {"batch_first": True},
                  {"batch_first": True, "norm_first": True, "activation": "gelu", "bias": False}]


def decoder_inputs(bf, with_masks):
    def make(n, T, S, rng=np.random.default_rng(8)):
        kw = {}
        if with_masks:
            kpm = rng.random((n, S)) < 0.3
            kpm[:, 0] = False
            kw = {"tgt_mask": donnx.Constant(nn.Transformer.generate_square_subsequent_mask(T).array),
                  "tgt_is_causal": True, "memory_key_padding_mask": kpm, "memory_mask": randn(rng, T, S)}
        return seq(rng, n, T, 8, bf), seq(rng, n, S, 8, bf), kw
    return make


@pytest.mark.parametrize("kw", DECODER_LAYERS, ids=repr)
@pytest.mark.parametrize("with_masks", [False, True])
def test_transformer_decoder_layer_matches_onnxruntime(kw, with_masks):
    layer = nn.TransformerDecoderLayer(8, 2, dim_feedforward=16, **kw)
    proto = check_inputs(layer, decoder_inputs(kw.get("batch_first", False), with_masks), SIZES)
    names = [i.name for i in proto.graph.input]
    assert names == (["tgt", "memory", "memory_key_padding_mask", "memory_mask"] if with_masks else ["tgt", "memory"])


def test_transformer_decoder_stack_with_norm_matches():
    dec = nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 4, dim_feedforward=12, batch_first=True), 2,
                                norm=nn.LayerNorm(8))
    check_inputs(dec, decoder_inputs(True, True), SIZES)


@pytest.mark.parametrize("kw", [{}, {"norm_first": True, "activation": "gelu", "batch_first": True}], ids=repr)
def test_transformer_with_causal_tgt_mask_matches_on_other_lengths(kw):
    model = nn.Transformer(d_model=8, nhead=2, num_encoder_layers=2, num_decoder_layers=2, dim_feedforward=16,
                           **kw)
    bf = kw.get("batch_first", False)

    def make(n, T, S, rng=np.random.default_rng(9)):
        kpm = rng.random((n, S)) < 0.3
        kpm[:, 0] = False
        causal = nn.Transformer.generate_square_subsequent_mask(T).array
        return seq(rng, n, S, 8, bf), seq(rng, n, T, 8, bf), {"tgt_mask": donnx.Constant(causal),
                                                              "tgt_is_causal": True, "src_key_padding_mask": kpm}
    proto = check_inputs(model, make, SIZES)
    assert [i.name for i in proto.graph.input] == ["src", "tgt", "src_key_padding_mask"]
    assert dims(proto.graph.input[2]) == ["batch", "src_seq"]
    assert dims(proto.graph.output[0]) == (["batch", "tgt_seq", 8] if bf else ["tgt_seq", "batch", 8])


def test_transformer_masks_as_graph_inputs_match():
    model = nn.Transformer(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=8)

    def make(n, T, S, rng=np.random.default_rng(10)):
        causal = nn.Transformer.generate_square_subsequent_mask(T).array
        return randn(rng, S, n, 8), randn(rng, T, n, 8), {"src_mask": randn(rng, S, S), "tgt_mask": causal}
    proto = check_inputs(model, make, SIZES)
    assert [dims(i) for i in proto.graph.input[2:]] == [["src_seq", "src_seq"], ["tgt_seq", "tgt_seq"]]


def test_encoder_layer_with_masks_as_graph_inputs_matches():
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, batch_first=True)

    def make(n, L, S, rng=np.random.default_rng(11)):
        kpm = rng.random((n, L)) < 0.3
        kpm[:, 0] = False
        return randn(rng, n, L, 8), {"src_mask": rng.random((L, L)) < 0.2, "src_key_padding_mask": kpm}
    proto = check_inputs(layer, make, SIZES)
    assert [dims(i) for i in proto.graph.input] == [["batch", "seq", 8], ["seq", "seq"], ["batch", "seq"]]


def test_a_graph_input_mask_of_the_wrong_dtype_fails_in_descend_first():
    x = np.zeros((2, 3, 8), np.float32)
    with pytest.raises(TypeError, match="boolean or floating"):
        donnx.build_model_proto(nn.MultiheadAttention(8, 2), (x, x, x, {"attn_mask": np.zeros((2, 2), np.int64)}))


def test_multihead_attention_needs_its_three_inputs():
    with pytest.raises(TypeError, match=r"example_input does not fit MultiheadAttention.forward\(query, key, value"):
        donnx.build_model_proto(nn.MultiheadAttention(8, 2), np.zeros((3, 2, 8), np.float32))


def test_multi_input_export_checks_input_names():
    x = np.zeros((3, 2, 8), np.float32)
    with pytest.raises(ValueError, match=r"input_names must be a list of 3 non-empty names \(the model has 3 inputs"):
        donnx.build_model_proto(nn.MultiheadAttention(8, 2), (x, x, x), input_names=["q", "k"])


def test_attention_inside_a_sequential_names_the_layer():
    model = nn.Sequential(nn.Linear(8, 8), nn.MultiheadAttention(8, 2))
    with pytest.raises(donnx.ExportError, match=r"^model.1 \(MultiheadAttention\) cannot be called with one input"):
        donnx.build_model_proto(model, np.zeros((3, 2, 8), np.float32))


def test_custom_activation_in_a_decoder_layer_names_the_layer():
    layer = nn.TransformerDecoderLayer(8, 2, dim_feedforward=8, activation=lambda t: t * 2)
    x = np.zeros((3, 2, 8), np.float32)
    with pytest.raises(donnx.ExportError, match=r"^model \(TransformerDecoderLayer\): activation .* has no export"):
        donnx.build_model_proto(layer, (x, x))


def test_export_with_kwargs_like_torch():
    m = nn.MultiheadAttention(8, 2).eval()
    rng = np.random.default_rng(12)
    q, kv = randn(rng, 4, 3, 8), randn(rng, 6, 3, 8)
    buf = io.BytesIO()
    donnx.export(m, (q, kv, kv), buf, kwargs={"need_weights": False})
    sess = session(buf.getvalue())
    assert [o.name for o in sess.get_outputs()] == ["output"]
    assert [i.name for i in sess.get_inputs()] == ["query", "key", "value"]


def test_docs_export_md_several_inputs_example_runs_on_other_lengths(tmp_path, monkeypatch):
    import pathlib
    import re
    text = (pathlib.Path(__file__).parent.parent / "docs" / "export.md").read_text()
    block = re.findall(r"```python\n(.*?)```", text, re.S)[1]
    monkeypatch.chdir(tmp_path)
    namespace = {"np": np, "descend": __import__("descend")}
    exec(compile(block, "docs/export.md", "exec"), namespace)
    rng = np.random.default_rng(13)
    sess = session(str(tmp_path / "attn.onnx"))
    out = sess.run(None, {"query": randn(rng, 3, 4, 16), "key": randn(rng, 3, 9, 8), "value": randn(rng, 3, 9, 8),
                          "key_padding_mask": np.zeros((3, 9), bool)})
    assert out[0].shape == (3, 4, 16) and out[1].shape == (3, 4, 9)
    model = namespace["model"].eval()
    src, tgt = randn(rng, 11, 3, 16), randn(rng, 4, 3, 16)
    got = session(str(tmp_path / "transformer.onnx")).run(None, {"src": src, "tgt": tgt})[0]
    want = descend_outputs(model, (src, tgt, {"tgt_mask": nn.Transformer.generate_square_subsequent_mask(4),
                                              "tgt_is_causal": True}))[0]
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("opset", [18, 21])
def test_newer_opsets_take_reduction_axes_as_inputs_and_still_match(opset):
    m = nn.MultiheadAttention(8, 2, batch_first=True)

    def make(n, L, S, rng=np.random.default_rng(14)):
        kpm = rng.random((n, S)) < 0.3
        kpm[0] = True
        return randn(rng, n, L, 8), randn(rng, n, S, 8), randn(rng, n, S, 8), {"key_padding_mask": kpm,
                                                                               "need_weights": False}
    proto = check_inputs(m, make, SIZES, opset_version=opset)
    assert proto.opset_import[0].version == opset
    check_inputs(nn.MultiheadAttention(8, 2), lambda n, L, S, rng=np.random.default_rng(15): (
        randn(rng, L, n, 8), randn(rng, S, n, 8), randn(rng, S, n, 8)), SIZES, opset_version=opset)
