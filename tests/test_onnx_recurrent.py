"""ONNX export of recurrent layers beyond one input: initial states as graph inputs (``h0``, ``(h0, c0)``) or
Constants, final states as outputs, unbatched (T, F) input and LSTM ``proj_size``, each over several layers
and both directions; the full checker passes and onnxruntime equals descend's eval output within 1e-5 on
several batch sizes and sequence lengths."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="onnx is not installed (pip install 'descend[onnx]')")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (the test extra)")

from descend import nn  # noqa: E402
import descend.onnx as donnx  # noqa: E402
from onnx_helpers import check_inputs, dims  # noqa: E402

SIZES = [(3, 7), (1, 2), (5, 11)]      # (batch, T)
LAYERS = [(nn.RNN, {}), (nn.RNN, {"nonlinearity": "relu", "num_layers": 2, "bidirectional": True}),
          (nn.GRU, {"num_layers": 2}), (nn.GRU, {"bidirectional": True, "batch_first": True, "bias": False}),
          (nn.LSTM, {}), (nn.LSTM, {"num_layers": 3, "bidirectional": True}), (nn.LSTM, {"batch_first": True}),
          (nn.LSTM, {"proj_size": 3}), (nn.LSTM, {"proj_size": 2, "num_layers": 2, "bidirectional": True}),
          (nn.LSTM, {"proj_size": 3, "batch_first": True, "bias": False})]
IDS = [f"{c.__name__}-{kw}" for c, kw in LAYERS]


def randn(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def states(rng, m, n, unbatched=False):
    LD = m.num_layers * m.num_directions
    shape = (LD, m.proj_size or m.hidden_size) if unbatched else (LD, n, m.proj_size or m.hidden_size)
    h0 = randn(rng, *shape)
    if m.mode != "LSTM":
        return h0
    return h0, randn(rng, *shape[:-1], m.hidden_size)


def inputs(m, with_states, unbatched=False, seed=0):
    rng = np.random.default_rng(seed)

    def make(n, t):
        x = randn(rng, t, 5) if unbatched else (randn(rng, n, t, 5) if m.batch_first else randn(rng, t, n, 5))
        return (x, states(rng, m, n, unbatched)) if with_states else x
    return make


@pytest.mark.parametrize("cls, kw", LAYERS, ids=IDS)
def test_recurrent_layer_with_initial_states_as_graph_inputs_matches(cls, kw):
    m = cls(5, 4, **kw)
    proto = check_inputs(m, inputs(m, True), SIZES)
    lstm = cls is nn.LSTM
    assert [i.name for i in proto.graph.input] == (["input", "h0", "c0"] if lstm else ["input", "h0"])
    assert [o.name for o in proto.graph.output] == (["output", "h_n", "c_n"] if lstm else ["output", "h_n"])
    LD = m.num_layers * m.num_directions
    assert dims(proto.graph.input[1]) == [LD, "batch", m.proj_size or 4]
    assert dims(proto.graph.output[1]) == [LD, "batch", m.proj_size or 4]


@pytest.mark.parametrize("cls, kw", LAYERS, ids=IDS)
def test_recurrent_layer_without_states_matches_on_other_lengths(cls, kw):
    m = cls(5, 4, **kw)
    proto = check_inputs(m, inputs(m, False), SIZES)
    want = ["batch", "seq", 5] if kw.get("batch_first") else ["seq", "batch", 5]
    assert dims(proto.graph.input[0]) == want


@pytest.mark.parametrize("cls, kw", [LAYERS[1], LAYERS[3], LAYERS[5], LAYERS[8]], ids=[IDS[i] for i in (1, 3, 5, 8)])
@pytest.mark.parametrize("with_states", [False, True])
def test_unbatched_sequence_exports_as_torch_shapes(cls, kw, with_states):
    m = cls(5, 4, **kw)
    proto = check_inputs(m, inputs(m, with_states, unbatched=True), SIZES)
    assert dims(proto.graph.input[0]) == ["seq", 5]
    assert len(dims(proto.graph.output[1])) == 2


def test_initial_states_as_constants_are_stored():
    m = nn.GRU(5, 4, num_layers=2)
    h0 = randn(np.random.default_rng(3), 2, 3, 4)
    rng = np.random.default_rng(4)
    proto = check_inputs(m, lambda n, t: (randn(rng, t, n, 5), donnx.Constant(h0)), [(3, 7), (3, 2)])
    assert [i.name for i in proto.graph.input] == ["input"]
    assert dims(proto.graph.input[0]) == ["seq", 3, 5]


def test_recurrent_layer_inside_a_sequential_still_exports():
    model = nn.Sequential(nn.Linear(5, 5), nn.LSTM(5, 4, proj_size=2, batch_first=True))
    rng = np.random.default_rng(5)
    proto = check_inputs(model, lambda n, t: randn(rng, n, t, 5), SIZES)
    assert [o.name for o in proto.graph.output] == ["output", "output_1", "output_2"]
    assert [dims(o) for o in proto.graph.output] == [["batch", "seq", 2], [1, "batch", 2], [1, "batch", 4]]


def test_lstm_states_must_be_a_pair_as_in_descend():
    x = np.zeros((4, 2, 5), np.float32)
    with pytest.raises(TypeError, match=r"hx must be a tuple \(h0, c0\)"):
        donnx.build_model_proto(nn.LSTM(5, 4), (x, np.zeros((1, 2, 4), np.float32)))


CELLS = [(nn.RNNCell, {}), (nn.RNNCell, {"nonlinearity": "relu", "bias": False}), (nn.GRUCell, {}),
         (nn.GRUCell, {"bias": False}), (nn.LSTMCell, {}), (nn.LSTMCell, {"bias": False})]


@pytest.mark.parametrize("cls, kw", CELLS, ids=[f"{c.__name__}-{kw}" for c, kw in CELLS])
@pytest.mark.parametrize("with_state", [False, True])
@pytest.mark.parametrize("unbatched", [False, True])
def test_recurrent_cell_step_matches_onnxruntime(cls, kw, with_state, unbatched):
    m = cls(5, 4, **kw)
    rng = np.random.default_rng(6)

    def make(n, t):
        shape = (lambda f: (f,)) if unbatched else (lambda f: (n, f))
        x = randn(rng, *shape(5))
        if not with_state:
            return x
        h = randn(rng, *shape(4))
        return x, ((h, randn(rng, *shape(4))) if cls is nn.LSTMCell else h)
    proto = check_inputs(m, make, SIZES)
    lstm = cls is nn.LSTMCell
    assert [i.name for i in proto.graph.input] == ["input", "h0", "c0"][:(1 + with_state * (1 + lstm))]
    assert [o.name for o in proto.graph.output] == (["h_1", "c_1"] if lstm else ["output"])
    assert dims(proto.graph.input[0]) == ([5] if unbatched else ["batch", 5])


def test_sync_batchnorm_exports_in_inference_form():
    layer = nn.SyncBatchNorm(3)
    layer.running_mean.array[...] = [0.5, -1.0, 2.0]
    layer.running_var.array[...] = [1.5, 0.25, 4.0]
    rng = np.random.default_rng(7)
    check_inputs(layer, lambda n, t: randn(rng, n, 3, 6), SIZES)


def test_module_list_has_no_export_and_names_the_layer():
    model = nn.Sequential(nn.Linear(5, 5), nn.ModuleList([nn.ReLU()]))
    with pytest.raises(donnx.ExportError, match=r"^model.1 \(ModuleList\) has no ONNX export"):
        donnx.build_model_proto(model, np.zeros((2, 5), np.float32))


def sequence_preset(name, **model):
    from descend.app import resolve_config
    return resolve_config({"model": {"preset": name, **model}})["model"]


@pytest.mark.parametrize("preset, model", [("rnn", {"hidden": [6]}), ("lstm", {"hidden": [6, 5]}),
                                           ("gru", {"hidden": [4]}), ("transformer", {"hidden": [8], "heads": 2}),
                                           ("transformer", {"hidden": [8, 8], "heads": 2, "norm_first": True})])
@pytest.mark.parametrize("tokens", [False, True])
def test_sequence_presets_export_for_classification_and_language_models(preset, model, tokens):
    from descend.app import build_model
    cfg = sequence_preset(preset, **model)
    net = build_model(cfg, (12,), 9, per_step=True) if tokens else build_model(cfg, (12, 3), 4)
    rng = np.random.default_rng(8)

    def make(n, t):
        return rng.integers(0, 9, (n, t)).astype(np.int64) if tokens else randn(rng, n, t, 3)
    proto = check_inputs(net, make, [(3, 12), (1, 5), (6, 9)])
    assert dims(proto.graph.input[0])[:2] == ["batch", "seq"]
    assert dims(proto.graph.output[0]) == (["batch", "seq", 9] if tokens else ["batch", 4])


def test_bidirectional_recurrent_block_keeps_both_directions_last_states():
    from descend.app.sequence import RecurrentBlock
    block = RecurrentBlock("gru", 3, 4, num_layers=2, bidirectional=True)
    rng = np.random.default_rng(9)
    check_inputs(nn.Sequential(block, nn.Linear(8, 2)), lambda n, t: randn(rng, n, t, 3), SIZES)


def test_packed_sequence_input_has_no_export_and_says_what_to_pass():
    import descend
    from descend.nn.utils.rnn import pack_padded_sequence
    packed = pack_padded_sequence(descend.tensor(np.zeros((4, 2, 3), np.float32)), [4, 2])
    with pytest.raises(TypeError, match=r"is a PackedSequence, which has no ONNX export; pass the padded batch"):
        donnx.build_model_proto(nn.GRU(3, 2), packed)
