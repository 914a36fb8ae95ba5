"""descend.save / descend.load as PyTorch programs use them: paths and binary file objects, state dicts of
models and optimisers, Tensors that come back as Tensors, map_location / weights_only, torch.save files."""

import io
import math
import pickle
from collections import OrderedDict

import numpy as np
import pytest
import torch

import descend
from descend import nn, optim
from descend.io import CheckpointError, checkpoint


def _round_trip(obj, how, tmp_path):
    """Save and load ``obj`` through a path, an io.BytesIO or an open()ed binary file."""
    if how == "path":
        return descend.load(descend.save(obj, tmp_path / "c.pt"))
    if how == "bytesio":
        buffer = io.BytesIO()
        assert descend.save(obj, buffer) is None
        buffer.seek(0)
        return descend.load(buffer)
    with open(tmp_path / "c.pt", "wb") as f:
        assert descend.save(obj, f) is None
    with open(tmp_path / "c.pt", "rb") as f:
        return descend.load(f, map_location="cpu", weights_only=True)


def assert_same(a, b, where="<root>"):
    """Same container types, keys, Tensor-ness, dtypes, shapes, requires_grad and values."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, dict):
        assert list(a) == list(b), f"{where}: keys {list(a)} != {list(b)}"
        for k in a:
            assert_same(a[k], b[k], f"{where}/{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}/{i}")
    elif isinstance(a, descend.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape and a.requires_grad == b.requires_grad, where
        assert a.array.tobytes() == b.array.tobytes(), f"{where}: values differ"
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes(), where
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b), where
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


HOWS = ["path", "bytesio", "file"]


@pytest.mark.parametrize("how", HOWS)
def test_tensors_come_back_as_tensors_with_dtype_shape_and_requires_grad(how, tmp_path, rng):
    tensors = {
        "f32": descend.tensor(rng.standard_normal((3, 4))),
        "f64": descend.tensor(rng.standard_normal(5), dtype="float64"),
        "i64": descend.tensor(np.array([-(2 ** 62), 0, 7])),
        "bool": descend.tensor(np.array([True, False])),
        "u8": descend.tensor(np.arange(6, dtype=np.uint8).reshape(2, 3)),
        "scalar": descend.tensor(2.5),
        "empty": descend.zeros(0, 3),
        "leaf": descend.tensor(rng.standard_normal(2), requires_grad=True),
    }
    out = _round_trip(tensors, how, tmp_path)
    assert_same(tensors, out)
    assert out["f32"].dtype == np.float32 and out["f64"].dtype == np.float64 and out["scalar"].shape == ()
    assert out["leaf"].requires_grad and out["leaf"].grad is None
    (out["leaf"] * 3).sum().backward()   # a loaded leaf is a working leaf
    np.testing.assert_array_equal(out["leaf"].grad, np.full(2, 3.0, np.float32))


@pytest.mark.parametrize("how", HOWS)
def test_single_tensor_parameter_and_plain_values_round_trip(how, tmp_path):
    t = descend.arange(6).reshape(2, 3)
    assert_same(t, _round_trip(t, how, tmp_path))
    p = nn.Parameter(descend.tensor(np.ones((2, 2)), dtype="float64"))
    back = _round_trip(p, how, tmp_path)
    assert type(back) is nn.Parameter and back.requires_grad and back.dtype == np.float64
    for value in [3, -2.5, float("nan"), 2 ** 100, None, "text", True, [1, (2, None)]]:
        assert_same(value, _round_trip(value, how, tmp_path))


@pytest.mark.parametrize("how", HOWS)
def test_dict_of_lists_of_tensors_keeps_its_structure_like_torch(how, tmp_path, rng):
    arrays = [rng.standard_normal((2, 2)).astype(np.float32) for _ in range(3)]
    ours = {"layers": [descend.tensor(a) for a in arrays], "meta": {"epoch": 3, "names": ("a", "b"), "best": None},
            0: [descend.tensor(arrays[0]), 1.5]}
    theirs = {"layers": [torch.tensor(a) for a in arrays], "meta": {"epoch": 3, "names": ("a", "b"), "best": None},
              0: [torch.tensor(arrays[0]), 1.5]}
    buffer = io.BytesIO()
    torch.save(theirs, buffer)
    buffer.seek(0)
    theirs = torch.load(buffer)

    def shape_of(obj):   # containers and leaf kinds, with tensors reduced to (dtype, shape, values)
        if isinstance(obj, dict):
            return ("dict", [(k, shape_of(v)) for k, v in obj.items()])
        if isinstance(obj, (list, tuple)):
            return (type(obj).__name__, [shape_of(v) for v in obj])
        if isinstance(obj, (descend.Tensor, torch.Tensor)):
            arr = obj.array if isinstance(obj, descend.Tensor) else obj.numpy()
            return ("tensor", str(arr.dtype), arr.shape, arr.tobytes())
        return obj

    assert shape_of(_round_trip(ours, how, tmp_path)) == shape_of(theirs)


@pytest.mark.parametrize("how", HOWS)
def test_model_and_optimizer_state_dicts_resume_training_exactly(how, tmp_path):
    x = descend.tensor(np.random.default_rng(0).standard_normal((16, 3)))
    y = descend.tensor(np.random.default_rng(1).standard_normal((16, 1)))

    def make(opt_cls, **kw):
        descend.manual_seed(0)
        model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1))
        return model, opt_cls(model.parameters(), **kw)

    def steps(model, opt, n):
        for _ in range(n):
            opt.zero_grad()
            ((model(x) - y) ** 2).mean().backward()
            opt.step()

    for opt_cls, kw in [(optim.Adam, dict(lr=0.05, amsgrad=True)), (optim.SGD, dict(lr=0.1, momentum=0.9))]:
        model, opt = make(opt_cls, **kw)
        steps(model, opt, 3)
        state = {"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3}
        loaded = _round_trip(state, how, tmp_path)
        assert_same(state["model"], loaded["model"])
        assert loaded["optimizer"]["param_groups"] == state["optimizer"]["param_groups"]
        steps(model, opt, 3)
        fresh, fresh_opt = make(opt_cls, **kw)
        fresh.load_state_dict(loaded["model"])
        fresh_opt.load_state_dict(loaded["optimizer"])
        steps(fresh, fresh_opt, 3)
        for (name, a), b in zip(model.state_dict().items(), fresh.state_dict().values()):
            assert np.asarray(a).tobytes() == np.asarray(b).tobytes(), (opt_cls.__name__, name)


def test_torch_save_file_gets_one_line_error_with_the_conversion_and_the_conversion_works(tmp_path):
    ref = torch.nn.Linear(3, 2)
    path = tmp_path / "model.pt"
    torch.save(ref.state_dict(), path)
    with pytest.raises(CheckpointError) as info:
        descend.load(path)
    message = str(info.value)
    assert "\n" not in message and "never unpickles" in message
    assert "descend.save(torch.load(path, map_location='cpu'), 'model.safetensors')" in message
    converted = tmp_path / "model.safetensors"
    descend.save(torch.load(path, map_location="cpu"), converted)   # the conversion the message gives
    state = descend.load(converted)
    assert type(state) is OrderedDict and list(state) == ["weight", "bias"]   # torch's state_dict type and order
    assert all(isinstance(v, descend.Tensor) for v in state.values())
    model = nn.Linear(3, 2)
    model.load_state_dict(state)
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    assert model.weight.array.tobytes() == ref.weight.detach().numpy().tobytes()
    np.testing.assert_allclose(model(descend.tensor(x)).array, ref(torch.tensor(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)


class _Bomb:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("weights_only", [True, False, None])
def test_pickle_in_a_file_object_is_never_unpickled_whatever_weights_only_says(tmp_path, weights_only):
    marker = tmp_path / "pwned"
    buffer = io.BytesIO(pickle.dumps({"w": _Bomb(str(marker))}))
    with pytest.raises(CheckpointError, match="pickle.*never unpickles"):
        descend.load(buffer, weights_only=weights_only)
    assert not marker.exists()


def test_map_location_accepts_the_cpu_and_refuses_other_devices():
    buffer = io.BytesIO()
    descend.save({"w": descend.ones(2)}, buffer)

    def load(**kw):
        buffer.seek(0)
        return descend.load(buffer, **kw)["w"]

    for where in [None, "cpu", torch.device("cpu"), {"cuda:0": "cpu"}]:
        np.testing.assert_array_equal(load(map_location=where).array, [1.0, 1.0])
    np.testing.assert_array_equal(load(map_location=lambda t, loc: t * 2).array, [2.0, 2.0])
    assert isinstance(load(map_location=lambda t, loc: None), descend.Tensor)
    for where in ["cuda", "cuda:1", torch.device("meta"), {"cpu": "cuda:0"}]:
        with pytest.raises(ValueError, match="CPU only"):
            load(map_location=where)
    with pytest.raises(TypeError, match="weights_only must be a bool"):
        load(weights_only="yes")


def test_text_files_and_bad_targets_are_refused_with_the_fix(tmp_path):
    with open(tmp_path / "t.txt", "w") as f:
        with pytest.raises(TypeError, match="open it in binary mode: open\\(path, 'wb'\\)"):
            descend.save({"a": 1}, f)
    descend.save({"a": 1}, tmp_path / "ok.pt")
    with open(tmp_path / "ok.pt", "r", encoding="latin-1") as f:
        with pytest.raises(TypeError, match="binary mode: open\\(path, 'rb'\\)"):
            descend.load(f)
    with pytest.raises(TypeError, match="binary file object"):
        descend.save({"a": 1}, 42)
    with pytest.raises(TypeError, match="binary file object"):
        descend.load(3.5)


def test_file_object_reads_from_its_position_and_names_itself_in_errors(tmp_path):
    buffer = io.BytesIO()
    buffer.write(b"prefix")
    descend.save([descend.ones(3)], buffer)
    buffer.seek(6)
    out = descend.load(buffer)
    assert isinstance(out, list) and isinstance(out[0], descend.Tensor)
    with pytest.raises(CheckpointError, match="'<file object>' is not a descend checkpoint"):
        descend.load(io.BytesIO(b"garbage!garbage!"))


def test_files_of_format_version_1_still_load(tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoint, "FORMAT_VERSION", 1)
    descend.save({"w": np.arange(3.0), "step": 4}, tmp_path / "v1.ckpt")
    monkeypatch.undo()
    assert descend.load(tmp_path / "v1.ckpt")["step"] == 4
    header = (tmp_path / "v1.ckpt").read_bytes()
    assert b'"format_version":"1"' in header
    descend.save({"w": descend.ones(1)}, tmp_path / "v2.ckpt")
    assert b'"format_version":"2"' in (tmp_path / "v2.ckpt").read_bytes()


def test_header_lengths_whose_first_byte_looks_like_a_pickle_still_load():
    """The 8-byte header length of a 128-byte header starts with 0x80, a pickle's first byte."""
    first_bytes = set()
    for k in range(0, 300):
        buffer = io.BytesIO()
        descend.save({"s": "x" * k}, buffer)
        first_bytes.add(buffer.getvalue()[0])
        buffer.seek(0)
        assert descend.load(buffer) == {"s": "x" * k}
    assert 0x80 in first_bytes
