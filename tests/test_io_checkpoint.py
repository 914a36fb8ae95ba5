"""descend.save / descend.load: bit-exact round trips, one safetensors file, no pickle, clear errors."""

import math
import os
import pickle
from collections import OrderedDict

import numpy as np
import pytest
import safetensors.numpy

import descend
from descend.io import CheckpointError, checkpoint


def assert_bit_equal(a, b, where="<root>"):
    """Same structure, same types, same dtypes/shapes, same bytes."""
    assert type(a) is type(b) or (isinstance(a, dict) and isinstance(b, dict)), \
        f"{where}: type {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, dict):
        assert list(a.keys()) == list(b.keys()), f"{where}: keys {list(a)} != {list(b)}"
        for (ka, va), kb in zip(a.items(), b.keys()):
            assert type(ka) is type(kb), f"{where}: key {ka!r} type {type(ka).__name__} != {type(kb).__name__}"
            assert_bit_equal(va, b[kb], f"{where}/{ka}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), f"{where}: length {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_bit_equal(x, y, f"{where}/{i}")
    elif isinstance(a, descend.Tensor):
        assert a.requires_grad == b.requires_grad, f"{where}: requires_grad differs"
        assert_bit_equal(a.array, b.array, where)
    elif isinstance(a, (np.ndarray, np.generic)):
        assert a.dtype == b.dtype and a.shape == b.shape, f"{where}: {a.dtype}{a.shape} != {b.dtype}{b.shape}"
        assert np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes(), f"{where}: bytes differ"
    elif isinstance(a, float):
        assert np.float64(a).tobytes() == np.float64(b).tobytes() or (math.isnan(a) and math.isnan(b)), \
            f"{where}: {a!r} != {b!r}"
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def _all_dtypes(rng):
    return {
        "f32": rng.standard_normal((3, 4)).astype(np.float32),
        "f64": rng.standard_normal(5),
        "f16": rng.standard_normal(7).astype(np.float16),
        "i64": np.array([np.iinfo(np.int64).min, -1, 0, np.iinfo(np.int64).max]),
        "i32": np.arange(-3, 3, dtype=np.int32),
        "i8": np.array([-128, 127], dtype=np.int8),
        "u8": rng.integers(0, 256, (2, 2, 3), dtype=np.uint8),
        "u64": np.array([np.iinfo(np.uint64).max, 0], dtype=np.uint64),
        "bool": np.array([[True, False], [False, True]]),
        "c64": (rng.standard_normal(3) + 1j * rng.standard_normal(3)).astype(np.complex64),
        "scalar0d": np.array(2.5, dtype=np.float32),
        "empty": np.zeros((0, 3), dtype=np.float32),
        "specials": np.array([np.nan, np.inf, -np.inf, -0.0, 5e-324, np.finfo(np.float64).max]),
        "nan_payload": np.array([0x7FC00001, 0xFFC12345], dtype=np.uint32).view(np.float32),
    }


def test_round_trips_every_dtype_bit_for_bit(tmp_path, rng):
    state = _all_dtypes(rng)
    out = descend.load(descend.save(state, tmp_path / "c.safetensors"))
    assert_bit_equal(state, out)


def test_non_contiguous_and_big_endian_arrays_come_back_equal(tmp_path, rng):
    a = rng.standard_normal((4, 6))
    state = {"transposed": a.T, "strided": a[::2, ::3], "big_endian": a.astype(">f8")}
    out = descend.load(descend.save(state, tmp_path / "c.st"))
    np.testing.assert_array_equal(out["transposed"], a.T)
    np.testing.assert_array_equal(out["strided"], a[::2, ::3])
    assert out["big_endian"].dtype == np.float64 and np.array_equal(out["big_endian"], a)


def test_run_checkpoint_with_int_keys_big_ints_and_python_values_round_trips(tmp_path, rng):
    gen = np.random.default_rng(2 ** 100 + 7)
    gen.standard_normal(3)  # has_uint32 etc. become non-trivial after draws
    state = {
        "model": OrderedDict([("fc.weight", rng.standard_normal((3, 2)).astype(np.float32)),
                              ("fc.bias", descend.tensor([0.5, -1.0, 2.0]))]),
        "optimizer": {
            "state": {0: {"step": 12, "exp_avg": np.ones((3, 2), np.float32)}, 1: {"step": 12}},
            "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "eps": 1e-8, "params": [0, 1],
                              "amsgrad": False, "maximize": None}],
        },
        "scheduler": {"last_epoch": -1, "base_lrs": [0.1], "gamma": 1 / 3},
        "rng": gen.bit_generator.state,
        "callbacks": {"early_stopping": {"best": float("inf"), "wait": 0, "mode": "min"}},
        "mixed_keys": {0: "int zero", "0": "str zero", -5: "neg", 2 ** 70: "huge key"},
        "numbers": [0.1, -0.0, float("nan"), float("-inf"), 2 ** 63, -(2 ** 200) - 1, 2 ** 53, 2 ** 53 - 1],
        "np_scalars": [np.float32(0.1), np.int64(-3), np.bool_(True), np.uint8(255), np.float16(1.5)],
        "text": "ünïcødé \"quotes\" </script>",
        "empty": {"d": {}, "l": [], "t": ()},
    }
    out = descend.load(descend.save(state, tmp_path / "run.ckpt"))
    expected = dict(state)
    expected["model"] = {"fc.weight": state["model"]["fc.weight"], "fc.bias": state["model"]["fc.bias"]}
    assert_bit_equal(expected, out)   # the Tensor comes back as a descend Tensor (format version 2)
    assert out["rng"]["state"]["state"] == gen.bit_generator.state["state"]["state"]
    assert out["rng"]["state"]["state"] > 2 ** 64  # a genuine big int survived exactly
    assert set(out["optimizer"]["state"]) == {0, 1}
    assert out["mixed_keys"][0] == "int zero" and out["mixed_keys"]["0"] == "str zero"
    assert isinstance(out["optimizer"]["param_groups"][0]["betas"], tuple)


def test_restored_rng_state_continues_the_same_stream(tmp_path):
    descend.manual_seed(123)
    descend.random.default_generator().standard_normal(10)
    descend.save({"rng": descend.get_rng_state()}, tmp_path / "r.ckpt")
    expected = descend.random.default_generator().standard_normal(5)
    descend.manual_seed(999)
    descend.set_rng_state(descend.load(tmp_path / "r.ckpt")["rng"])
    np.testing.assert_array_equal(descend.random.default_generator().standard_normal(5), expected)


def test_module_state_dict_round_trips_and_loads_back(tmp_path, rng):
    from descend import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(rng.standard_normal((4, 3)).astype(np.float32))
            self.bn = nn.BatchNorm1d(4)

    net = Net()
    net.bn.running_mean.array[:] = rng.standard_normal(4).astype(np.float32)
    sd = net.state_dict()
    out = descend.load(descend.save({"model": sd}, tmp_path / "m.ckpt"))["model"]
    assert_bit_equal(dict(sd), out)
    other = Net()
    other.load_state_dict(out)
    for k, v in other.state_dict().items():
        assert v.tobytes() == sd[k].tobytes() and v.dtype == sd[k].dtype, k


def test_file_is_a_plain_safetensors_file_with_key_path_names(tmp_path):
    descend.save({"model": {"fc.weight": np.ones((2, 2), np.float32)}, "opt": {"state": {3: {"m": np.zeros(2)}}},
                  "epoch": 4}, tmp_path / "c.safetensors")
    tensors = safetensors.numpy.load_file(str(tmp_path / "c.safetensors"))
    assert sorted(tensors) == ["model/fc.weight", "opt/state/3/m"]


def test_colliding_key_paths_stay_distinct(tmp_path):
    state = {"a/b": np.array([1.0]), "a": {"b": np.array([2.0])}}
    out = descend.load(descend.save(state, tmp_path / "c"))
    assert out["a/b"][0] == 1.0 and out["a"]["b"][0] == 2.0


def test_unsupported_value_names_key_path_and_type_and_writes_nothing(tmp_path):
    target = tmp_path / "c.ckpt"
    descend.save({"ok": 1}, target)
    before = target.read_bytes()
    with pytest.raises(TypeError, match=r"'opt/state/0/fn'.*function"):
        descend.save({"opt": {"state": {0: {"fn": lambda: 0}}}}, target)
    with pytest.raises(TypeError, match=r"'x/1'.*dtype <U1|'x/1'.*not numeric"):
        descend.save({"x": [np.zeros(1), np.array(["a"])]}, target)
    with pytest.raises(TypeError, match=r"key \(1, 2\).*str or int"):
        descend.save({"d": {(1, 2): 0}}, target)
    with pytest.raises(TypeError, match="key True"):
        descend.save({"d": {True: 0}}, target)
    loop = {"a": 1}
    loop["self"] = loop
    with pytest.raises(ValueError, match="refers to itself"):
        descend.save(loop, target)
    assert target.read_bytes() == before
    assert os.listdir(tmp_path) == ["c.ckpt"]


def test_crash_during_save_leaves_previous_checkpoint_loadable(tmp_path, monkeypatch):
    target = tmp_path / "c.ckpt"
    descend.save({"epoch": 1, "w": np.arange(3.0)}, target)

    def crash(src, dst):
        raise OSError("killed")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="killed"):
        descend.save({"epoch": 2, "w": np.arange(1e6)}, target)
    monkeypatch.undo()
    out = descend.load(target)
    assert out["epoch"] == 1 and np.array_equal(out["w"], np.arange(3.0))
    assert os.listdir(tmp_path) == ["c.ckpt"]


class _Bomb:
    """Unpickling this would create a marker file: proof that load never unpickles."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickle_payload_is_refused_and_never_executed(tmp_path):
    marker = tmp_path / "pwned"
    bad = tmp_path / "evil.ckpt"
    bad.write_bytes(pickle.dumps({"model": _Bomb(str(marker))}))
    with pytest.raises(CheckpointError, match="pickle.*never unpickles"):
        descend.load(bad)
    assert not marker.exists()


def test_torch_save_file_is_refused(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "model.pt"
    torch.save({"w": torch.ones(2)}, path)
    with pytest.raises(CheckpointError, match="zip archive"):
        descend.load(path)


@pytest.mark.parametrize("payload", [b"", b"hello", b"\x00" * 64, np.random.default_rng(7).bytes(300),
                                     b"\x10\x00\x00\x00\x00\x00\x00\x00[1, 2, 3]       "],
                         ids=["empty", "short", "zeros", "random", "json-not-object"])
def test_garbage_is_not_a_checkpoint(tmp_path, payload):
    path = tmp_path / "g.ckpt"
    path.write_bytes(payload)
    with pytest.raises(CheckpointError, match="not a descend checkpoint"):
        descend.load(path)


def test_plain_safetensors_file_is_not_a_descend_checkpoint(tmp_path):
    path = tmp_path / "plain.safetensors"
    safetensors.numpy.save_file({"w": np.ones(2, np.float32)}, str(path))
    with pytest.raises(CheckpointError, match="without descend metadata"):
        descend.load(path)


def test_every_truncation_gives_a_clear_error(tmp_path, rng):
    full = tmp_path / "full.ckpt"
    descend.save({"w": rng.standard_normal((8, 8)).astype(np.float32), "step": 3}, full)
    data = full.read_bytes()
    header_len = int.from_bytes(data[:8], "little")
    cut_path = tmp_path / "cut.ckpt"
    for cut in sorted({0, 4, 8, 9, 8 + header_len // 2, 8 + header_len, 8 + header_len + 1, len(data) - 1}):
        cut_path.write_bytes(data[:cut])
        with pytest.raises(CheckpointError) as info:
            descend.load(cut_path)
        message = str(info.value)
        assert "truncated" in message or "not a descend checkpoint" in message, (cut, message)
        if cut > 9:
            assert "truncated" in message, (cut, message)


def test_newer_format_version_is_refused_with_upgrade_hint(tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoint, "FORMAT_VERSION", 99)
    descend.save({"a": 1}, tmp_path / "new.ckpt")
    monkeypatch.undo()
    with pytest.raises(CheckpointError, match="version 99.*Upgrade"):
        descend.load(tmp_path / "new.ckpt")


def test_missing_file_and_bad_path_type(tmp_path):
    with pytest.raises(FileNotFoundError):
        descend.load(tmp_path / "nope.ckpt")
    with pytest.raises(TypeError, match="PathLike"):
        descend.load(42)


def test_loaded_arrays_are_writable_and_independent_of_the_file(tmp_path):
    descend.save({"w": np.zeros(3, np.float32)}, tmp_path / "c")
    w = descend.load(tmp_path / "c")["w"]
    w += 1
    assert np.array_equal(descend.load(tmp_path / "c")["w"], np.zeros(3))


def test_resuming_model_and_adam_from_a_checkpoint_matches_uninterrupted_training(tmp_path):
    """3 Adam steps, save, 3 more steps; a fresh model+optimiser loaded from the file and stepped 3 times
    must land on bit-identical weights (optimiser moments and step counts survived exactly)."""
    nn = pytest.importorskip("descend.nn")
    optim = pytest.importorskip("descend.optim")
    if not hasattr(nn, "Linear") or not hasattr(optim, "Adam"):
        pytest.skip("Linear/Adam not available")
    x = descend.tensor(np.random.default_rng(0).standard_normal((16, 3)))
    y = descend.tensor(np.random.default_rng(1).standard_normal((16, 1)))

    def make():
        descend.manual_seed(0)
        model = nn.Sequential(nn.Linear(3, 8), nn.Linear(8, 1))
        return model, optim.Adam(model.parameters(), lr=0.05)

    def steps(model, opt, n):
        for _ in range(n):
            opt.zero_grad()
            ((model(x) - y) ** 2).mean().backward()
            opt.step()

    model, opt = make()
    steps(model, opt, 3)
    descend.save({"model": model.state_dict(), "optimizer": opt.state_dict()}, tmp_path / "mid.ckpt")
    steps(model, opt, 3)

    fresh, fresh_opt = make()
    state = descend.load(tmp_path / "mid.ckpt")
    fresh.load_state_dict(state["model"])
    fresh_opt.load_state_dict(state["optimizer"])
    steps(fresh, fresh_opt, 3)
    for (name, a), b in zip(model.state_dict().items(), fresh.state_dict().values()):
        assert a.tobytes() == b.tobytes(), name
