"""ONNX export: every supported layer and preset passes onnx's full checker and onnxruntime's CPU output
equals descend's eval-mode output within 1e-5 on batches of 1, 3 and 17; unsupported layers fail with one
line naming the layer path and write nothing."""

import io

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

onnx = pytest.importorskip("onnx", reason="onnx is not installed (pip install 'descend[onnx]')")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (the test extra)")

import descend  # noqa: E402
from descend import nn  # noqa: E402
from descend.app.config import check_config  # noqa: E402
from descend.app.models import build_model  # noqa: E402
import descend.onnx as donnx  # noqa: E402

BATCHES = (1, 3, 17)


def session(proto_bytes):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(proto_bytes, opts, providers=["CPUExecutionProvider"])


def descend_out(model, x):
    with descend.no_grad():
        out = model(descend.tensor(x) if x.dtype.kind == "f" else descend.tensor(x, dtype=x.dtype))
    return out.array


def check_export(model, make_input, batches=BATCHES, atol=1e-5, **kwargs):
    """Export on a batch of 3, run the full checker, compare onnxruntime to descend on each batch size."""
    model.eval()
    buf = io.BytesIO()
    donnx.export(model, make_input(3), buf, **kwargs)
    proto = onnx.load_from_string(buf.getvalue())
    onnx.checker.check_model(proto, full_check=True)
    sess = session(buf.getvalue())
    in_name = sess.get_inputs()[0].name
    for n in batches:
        x = make_input(n)
        got = sess.run(None, {in_name: x})[0]
        want = descend_out(model, x)
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, atol=atol, rtol=1e-5)
    return proto


def images(c=3, h=9, w=9, seed=0):
    rng = np.random.default_rng(seed)
    return lambda n: rng.standard_normal((n, c, h, w)).astype(np.float32)


def features(f=6, seed=0):
    rng = np.random.default_rng(seed)
    return lambda n: rng.standard_normal((n, f)).astype(np.float32)


def randomise_batchnorm(model, seed=1):
    rng = np.random.default_rng(seed)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            c = m.num_features
            m.running_mean.array[...] = rng.standard_normal(c)
            m.running_var.array[...] = rng.uniform(0.5, 2.0, c)
            if m.weight is not None:
                m.weight.array[...] = rng.uniform(0.5, 1.5, c)
                m.bias.array[...] = rng.standard_normal(c)
    return model


ACTIVATIONS = [nn.ReLU(), nn.LeakyReLU(0.2), nn.ELU(0.7), nn.Sigmoid(), nn.Tanh(), nn.GELU(), nn.GELU("tanh"),
               nn.SiLU(), nn.Softmax(dim=1), nn.LogSoftmax(dim=-1), nn.Softmax(dim=0)]


@pytest.mark.parametrize("act", ACTIVATIONS, ids=lambda a: repr(a))
def test_activation_matches_onnxruntime(act):
    check_export(nn.Sequential(nn.Linear(6, 5), act), features(), batches=(3,) if getattr(act, "dim", 1) == 0
                 else BATCHES)


@pytest.mark.parametrize("bias", [True, False])
def test_linear_exports_as_gemm_and_matches(bias):
    proto = check_export(nn.Linear(6, 4, bias=bias), features())
    assert [n.op_type for n in proto.graph.node] == ["Gemm", "Identity"]


def test_linear_on_3d_input_exports_as_matmul_add():
    rng = np.random.default_rng(2)
    proto = check_export(nn.Linear(5, 3), lambda n: rng.standard_normal((n, 4, 5)).astype(np.float32))
    assert "MatMul" in [n.op_type for n in proto.graph.node]


@pytest.mark.parametrize("kw", [dict(kernel_size=3), dict(kernel_size=3, padding=1, stride=2),
                                dict(kernel_size=(2, 3), dilation=2, padding=(1, 0)), dict(kernel_size=1, bias=False),
                                dict(kernel_size=3, padding="same")])
def test_conv2d_matches_onnxruntime(kw):
    check_export(nn.Conv2d(3, 4, **kw), images())


@pytest.mark.parametrize("layer", [nn.MaxPool2d(2), nn.MaxPool2d(3, stride=2, padding=1), nn.AvgPool2d(2),
                                   nn.AvgPool2d(3, stride=2, padding=1),
                                   nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False),
                                   nn.AdaptiveAvgPool2d(1), nn.AdaptiveAvgPool2d((4, 2)), nn.AdaptiveAvgPool2d(5),
                                   nn.AdaptiveAvgPool2d((None, 3))], ids=repr)
def test_pooling_matches_onnxruntime(layer):
    check_export(layer, images())


@pytest.mark.parametrize("affine", [True, False])
def test_batchnorm_inference_form_matches(affine):
    check_export(randomise_batchnorm(nn.Sequential(nn.Linear(6, 5), nn.BatchNorm1d(5, affine=affine))), features())
    check_export(randomise_batchnorm(nn.Sequential(nn.BatchNorm2d(3, affine=affine, eps=1e-3))), images())


def test_batchnorm3d_on_volumes_matches():
    rng = np.random.default_rng(6)
    bn = nn.BatchNorm3d(2)
    bn.running_mean.array[...] = [0.5, -1.0]
    bn.running_var.array[...] = [2.0, 0.25]
    check_export(bn, lambda n: rng.standard_normal((n, 2, 3, 4, 5)).astype(np.float32))


def test_float64_model_exports_in_double_precision():
    model = nn.Sequential(nn.Linear(6, 5, dtype="float64"), nn.Tanh(), nn.Linear(5, 2, dtype="float64"))
    rng = np.random.default_rng(8)
    proto = check_export(model, lambda n: rng.standard_normal((n, 6)), atol=1e-12)
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.DOUBLE


def test_batchnorm1d_on_sequences_matches():
    rng = np.random.default_rng(3)
    check_export(randomise_batchnorm(nn.BatchNorm1d(4)), lambda n: rng.standard_normal((n, 4, 7)).astype(np.float32))


@pytest.mark.parametrize("shape, affine", [((6,), True), ((6,), False), ((3, 6), True)])
def test_layernorm_matches(shape, affine):
    rng = np.random.default_rng(4)
    ln = nn.LayerNorm(shape, elementwise_affine=affine, eps=1e-4)
    if affine:
        ln.weight.array[...] = rng.uniform(0.5, 1.5, shape)
        ln.bias.array[...] = rng.standard_normal(shape)
    check_export(ln, lambda n: (rng.standard_normal((n, 3, 6)) * 3 + 1).astype(np.float32))


def test_dropout_is_identity_in_the_export():
    proto = check_export(nn.Sequential(nn.Conv2d(3, 2, 3), nn.Dropout2d(0.5), nn.Flatten(), nn.Dropout(0.3),
                                       nn.Identity(), nn.Linear(98, 2)), images())
    assert not {"Dropout", "RandomUniform"} & {n.op_type for n in proto.graph.node}


@pytest.mark.parametrize("start, end", [(1, -1), (2, 3), (1, 2), (0, 1)])
def test_flatten_matches(start, end):
    check_export(nn.Flatten(start, end), images(), batches=(3,) if start == 0 else BATCHES)


def test_residual_block_matches():
    block = nn.Sequential(nn.Conv2d(3, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU(), nn.Conv2d(3, 3, 3, padding=1))
    check_export(randomise_batchnorm(nn.Sequential(nn.Residual(block), nn.ReLU())), images())


def test_embedding_exports_as_gather():
    rng = np.random.default_rng(5)
    model = nn.Sequential(nn.Embedding(11, 4, padding_idx=0), nn.Flatten(), nn.Linear(20, 3))
    proto = check_export(model, lambda n: rng.integers(0, 11, (n, 5)).astype(np.int64))
    assert proto.graph.node[0].op_type == "Gather"


@pytest.mark.parametrize("preset, hidden", [("mlp", [16, 8]), ("cnn", [4, 6]), ("resnet", [4, 8])])
def test_preset_matches_onnxruntime(preset, hidden):
    cfg = check_config({"model": {"preset": preset, "hidden": hidden, "batchnorm": True, "dropout": 0.2}})["model"]
    model = randomise_batchnorm(build_model(cfg, (1, 8, 8), 10))
    check_export(model, images(1, 8, 8))


def test_batch_dimension_is_symbolic_by_default_and_names_are_kept():
    proto = check_export(nn.Linear(6, 2), features(), input_names=["x"], output_names=["logits"])
    (inp,), (out,) = proto.graph.input, proto.graph.output
    assert (inp.name, out.name) == ("x", "logits")
    assert inp.type.tensor_type.shape.dim[0].dim_param == "batch"
    assert out.type.tensor_type.shape.dim[0].dim_param == "batch"
    assert inp.type.tensor_type.shape.dim[1].dim_value == 6


def test_dynamic_axes_as_in_torch_replace_the_default():
    proto = check_export(nn.Linear(6, 2), features(), batches=(3,), dynamic_axes={"input": {0: "n"}, "output": [0]})
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "n"
    assert proto.graph.output[0].type.tensor_type.shape.dim[0].dim_param == "output_dim0"
    fixed = onnx.load_from_string(donnx.build_model_proto(nn.Linear(6, 2), features()(3), dynamic_axes={})
                                  .SerializeToString())
    assert fixed.graph.input[0].type.tensor_type.shape.dim[0].dim_value == 3


def test_opset_version_is_honoured():
    proto = donnx.build_model_proto(nn.Linear(6, 2), features()(3), opset_version=18)
    assert proto.opset_import[0].version == 18
    with pytest.raises(ValueError, match="opset_version must be an int in"):
        donnx.build_model_proto(nn.Linear(6, 2), features()(3), opset_version=11)


def test_export_writes_a_file_atomically(tmp_path):
    path = tmp_path / "m.onnx"
    model = nn.Sequential(nn.Linear(6, 3), nn.Tanh())
    assert donnx.export(model, features()(2), path) == path
    x = features(seed=9)(4)
    np.testing.assert_allclose(session(str(path)).run(None, {"input": x})[0], descend_out(model.eval(), x), atol=1e-6)
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]


class MyLayer(nn.Module):
    def forward(self, x):
        return x * 2


class Doubling(nn.ReLU):
    def forward(self, x):
        return x * 2


@pytest.mark.parametrize("layer, name", [(MyLayer(), "MyLayer"), (Doubling(), "Doubling")])
def test_unsupported_layer_names_its_path_and_writes_nothing(tmp_path, layer, name):
    model = nn.Sequential(nn.Linear(6, 6), nn.ReLU(), nn.Sequential(nn.Tanh(), layer))
    path = tmp_path / "m.onnx"
    with pytest.raises(donnx.ExportError) as info:
        donnx.export(model, features()(2), path)
    msg = str(info.value)
    assert msg.startswith(f"model.2.1 ({name}) has no ONNX export") and "\n" not in msg
    assert not path.exists() and list(tmp_path.iterdir()) == []


def test_export_leaves_training_mode_as_it_was():
    model = nn.Sequential(nn.Linear(6, 3), nn.Dropout(0.5))
    model.train()
    donnx.build_model_proto(model, features()(2))
    assert model.training and model[1].training


def test_export_checks_its_arguments():
    with pytest.raises(TypeError, match="descend.nn.Module"):
        donnx.build_model_proto(lambda x: x, features()(2))
    with pytest.raises(ValueError, match="input_names must be a list of one"):
        donnx.build_model_proto(nn.Linear(6, 2), features()(2), input_names="x")
    with pytest.raises(ValueError, match="dynamic_axes names"):
        donnx.build_model_proto(nn.Linear(6, 2), features()(2), dynamic_axes={"bogus": [0]})


def test_import_descend_does_not_import_onnx():
    import subprocess
    import sys
    code = "import sys, descend; print('onnx' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


@st.composite
def conv_pool_configs(draw):
    k = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = (draw(st.integers(0, k[0] // 2)), draw(st.integers(0, k[1] // 2)))
    h = draw(st.integers(dilation[0] * (k[0] - 1) + 1, 11))
    w = draw(st.integers(dilation[1] * (k[1] - 1) + 1, 11))
    return k, stride, padding, dilation, h, w


@settings(max_examples=25, deadline=None)
@given(conv_pool_configs(), st.sampled_from(["conv", "max", "avg", "avg_nopad"]))
def test_generated_conv_and_pool_configurations_match_onnxruntime(config, kind):
    k, stride, padding, dilation, h, w = config
    if kind == "conv":
        layer = nn.Conv2d(2, 3, k, stride=stride, padding=padding, dilation=dilation)
    elif kind == "max":
        layer = nn.MaxPool2d(k, stride=stride, padding=padding)
    else:
        layer = nn.AvgPool2d(k, stride=stride, padding=padding, count_include_pad=kind == "avg")
    check_export(layer, images(2, h, w), batches=(1, 3))


def check_outputs(model, make_input, batches=BATCHES, **kwargs):
    """Like check_export for a model with several outputs (a recurrent layer's output and final states)."""
    model.eval()
    buf = io.BytesIO()
    donnx.export(model, make_input(3), buf, **kwargs)
    proto = onnx.load_from_string(buf.getvalue())
    onnx.checker.check_model(proto, full_check=True)
    sess = session(buf.getvalue())
    for n in batches:
        x = make_input(n)
        got = sess.run(None, {sess.get_inputs()[0].name: x})
        with descend.no_grad():
            out = model(descend.tensor(x))
        want = [out[0].array, *([t.array for t in out[1]] if isinstance(out[1], tuple) else [out[1].array])]
        assert len(got) == len(want)
        for a, b in zip(got, want):
            np.testing.assert_allclose(a, b, atol=1e-5, rtol=1e-5)
    return proto


def sequences(f=5, t=7, batch_first=False, seed=0):
    rng = np.random.default_rng(seed)
    return lambda n: rng.standard_normal((n, t, f) if batch_first else (t, n, f)).astype(np.float32)


RECURRENT = [(nn.RNN, {}), (nn.RNN, {"nonlinearity": "relu", "bidirectional": True}), (nn.LSTM, {}),
             (nn.LSTM, {"num_layers": 2, "bidirectional": True}), (nn.GRU, {}),
             (nn.GRU, {"num_layers": 2, "bidirectional": True, "bias": False}),
             (nn.LSTM, {"batch_first": True}), (nn.GRU, {"batch_first": True, "num_layers": 3, "dropout": 0.3})]


@pytest.mark.parametrize("cls, kw", RECURRENT, ids=lambda v: getattr(v, "__name__", None) or repr(v))
def test_recurrent_layer_matches_onnxruntime_output_and_final_states(cls, kw):
    proto = check_outputs(cls(5, 6, **kw), sequences(batch_first=kw.get("batch_first", False)))
    names = [o.name for o in proto.graph.output]
    assert names == (["output", "h_n", "c_n"] if cls is nn.LSTM else ["output", "h_n"])
    seq_in = proto.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param for d in seq_in][:2] == (["batch", "seq"] if kw.get("batch_first") else ["seq", "batch"])


def test_recurrent_export_runs_on_other_sequence_lengths():
    model = nn.GRU(4, 3).eval()
    buf = io.BytesIO()
    donnx.export(model, np.zeros((5, 2, 4), np.float32), buf)
    x = np.random.default_rng(0).standard_normal((11, 6, 4)).astype(np.float32)
    with descend.no_grad():
        want = model(descend.tensor(x))[0].array
    np.testing.assert_allclose(session(buf.getvalue()).run(None, {"input": x})[0], want, atol=1e-5)


def test_lstm_with_projection_has_no_export():
    with pytest.raises(donnx.ExportError, match=r"^model \(LSTM\): proj_size=2 has no ONNX export$"):
        donnx.build_model_proto(nn.LSTM(5, 4, proj_size=2), sequences()(2))


ENCODER_LAYERS = [{}, {"norm_first": True}, {"activation": "gelu"}, {"batch_first": True},
                  {"batch_first": True, "norm_first": True, "bias": False}]


@pytest.mark.parametrize("kw", ENCODER_LAYERS, ids=repr)
def test_transformer_encoder_layer_matches_onnxruntime(kw):
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.1, **kw)
    proto = check_export(layer, sequences(8, 5, kw.get("batch_first", False)))
    ops = {n.op_type for n in proto.graph.node}
    assert {"MatMul", "Softmax", "LayerNormalization"} <= ops


def test_positional_encoding_and_encoder_stack_match_on_other_sequence_lengths():
    layer = nn.TransformerEncoderLayer(8, 4, dim_feedforward=12, batch_first=True)
    model = nn.Sequential(nn.Linear(3, 8), nn.SinusoidalPositionalEncoding(8, max_len=40, batch_first=True),
                          nn.LearnedPositionalEncoding(8, max_len=40, batch_first=True),
                          nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(8)))
    model.eval()
    buf = io.BytesIO()
    donnx.export(model, np.zeros((2, 5, 3), np.float32), buf)
    sess = session(buf.getvalue())
    rng = np.random.default_rng(7)
    for n, t in [(1, 5), (3, 11), (17, 2)]:
        x = rng.standard_normal((n, t, 3)).astype(np.float32)
        np.testing.assert_allclose(sess.run(None, {"input": x})[0], descend_out(model, x), atol=1e-5, rtol=1e-5)


def test_multihead_attention_alone_has_no_export():
    with pytest.raises(donnx.ExportError, match=r"^model \(MultiheadAttention\) has no ONNX export"):
        donnx.build_model_proto(nn.MultiheadAttention(8, 2), sequences(8)(2))


def test_docs_export_md_onnx_example_runs(tmp_path, monkeypatch):
    import pathlib
    import re
    text = (pathlib.Path(__file__).parent.parent / "docs" / "export.md").read_text()
    block = re.findall(r"```python\n(.*?)```", text, re.S)[0]
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(compile(block, "docs/export.md", "exec"), namespace)
    assert (tmp_path / "model.onnx").is_file()
