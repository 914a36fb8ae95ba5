"""descend.onnx.load: an exported file comes back as a descend module computing the same outputs
(round trip within 1e-5), with trainable parameters; unknown ops fail naming the node."""

import io

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="onnx is not installed (pip install 'descend[onnx]')")

import descend  # noqa: E402
from descend import nn  # noqa: E402
from descend.app.config import check_config  # noqa: E402
from descend.app.models import build_model  # noqa: E402
import descend.onnx as donnx  # noqa: E402

RNG = np.random.default_rng(0)


def round_trip(model, x):
    model.eval()
    buf = io.BytesIO()
    donnx.export(model, x, buf)
    return donnx.load(buf.getvalue())


def outputs(model, x):
    with descend.no_grad():
        out = model(descend.tensor(x))
    flat = []

    def walk(o):
        if isinstance(o, tuple):
            for item in o:
                walk(item)
        else:
            flat.append(o.array)
    walk(out)
    return flat


def preset(name, hidden):
    cfg = check_config({"model": {"preset": name, "hidden": hidden, "batchnorm": True, "dropout": 0.1}})["model"]
    return build_model(cfg, (1, 8, 8), 10)


MODELS = [
    ("mlp", lambda: preset("mlp", [16, 8]), (1, 8, 8)),
    ("cnn", lambda: preset("cnn", [4, 6]), (1, 8, 8)),
    ("resnet", lambda: preset("resnet", [4, 8]), (1, 8, 8)),
    ("activations", lambda: nn.Sequential(nn.Linear(6, 8), nn.GELU(), nn.Linear(8, 8), nn.GELU("tanh"), nn.ELU(),
                                          nn.LeakyReLU(0.1), nn.SiLU(), nn.LayerNorm(8), nn.LogSoftmax(-1)), (6,)),
    ("pools", lambda: nn.Sequential(nn.Conv2d(2, 3, 3, padding=1, dilation=1), nn.AvgPool2d(2, padding=1),
                                    nn.MaxPool2d(2, stride=1), nn.AdaptiveAvgPool2d((2, 3)), nn.Flatten(),
                                    nn.Softmax(1)), (2, 9, 9)),
    ("lstm", lambda: nn.LSTM(5, 4, num_layers=2, bidirectional=True), (7, 5)),
    ("gru", lambda: nn.GRU(5, 4, batch_first=True), (7, 5)),
    ("rnn", lambda: nn.RNN(5, 4, nonlinearity="relu", bidirectional=True), (7, 5)),
    ("transformer", lambda: nn.Sequential(nn.SinusoidalPositionalEncoding(8, batch_first=True),
                                          nn.TransformerEncoder(nn.TransformerEncoderLayer(
                                              8, 2, dim_feedforward=16, batch_first=True), 2)), (5, 8)),
]


def example(name, shape, n):
    if name in ("lstm", "rnn"):
        return RNG.standard_normal((shape[0], n, shape[1])).astype(np.float32)
    return RNG.standard_normal((n, *shape)).astype(np.float32)


@pytest.mark.parametrize("name, build, shape", MODELS, ids=[m[0] for m in MODELS])
def test_export_then_load_computes_the_same_outputs(name, build, shape):
    model = build()
    loaded = round_trip(model, example(name, shape, 3))
    for n in (1, 3, 17):
        x = example(name, shape, n)
        for got, want in zip(outputs(loaded, x), outputs(model.eval(), x), strict=True):
            np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-5)


def test_loaded_module_is_trainable():
    model = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 1))
    loaded = round_trip(model, np.zeros((2, 4), np.float32))
    assert len(list(loaded.parameters())) == 4
    x = descend.tensor(RNG.standard_normal((8, 4)).astype(np.float32))
    loss = (loaded(x) ** 2).mean()
    loss.backward()
    assert all(p.grad is not None for p in loaded.parameters())
    grads = {name: np.asarray(getattr(p.grad, "array", p.grad)) for name, p in loaded.named_parameters()}
    assert all(np.any(g != 0) for g in grads.values())
    # the same gradient as the original model's last bias: d mean(y²)/db = 2·mean(y)
    with descend.no_grad():
        y = loaded(x).array
    bias_name = next(n for n, onnx_name in loaded.onnx_names.items() if onnx_name == "model.2.bias")
    np.testing.assert_allclose(grads[bias_name], [2 * y.mean()], rtol=1e-5)


def test_load_rejects_an_unknown_op_naming_the_node():
    from onnx import TensorProto, helper
    node = helper.make_node("Cosh", ["x"], ["y"], name="weird")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    proto = helper.make_model(graph)
    with pytest.raises(donnx.ExportError, match=r"^node 'weird' \(Cosh\) has no descend equivalent"):
        donnx.load(proto.SerializeToString())
