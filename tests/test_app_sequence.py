"""Sequence training from the config: MNIST-1D, (N, T, F) .npz files, text files as character-level language
models, the sequence presets, `descend generate`, and the health monitor on recurrent/attention layers."""

import json
import math
import sys

import numpy as np
import pytest
import torch

from descend import nn
from descend.app import LOSSES, build_model, generate_text, resolve_config, run_training
from descend.cli import main
from descend.creation import as_tensor
from descend.data import load_dataset
from descend.data.mnist1d import MISSING_MESSAGE, mnist1d_arrays
from descend.data.text import decode, encode, load_text
from descend.diagnose.report import load_run_health

TEXT = ("descend trains neural networks on NumPy. The trainer reads a config, builds the model, and writes a "
        "run folder with a report. ") * 60


@pytest.fixture
def text_file(tmp_path):
    path = tmp_path / "book.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


@pytest.fixture
def seq_npz(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((384, 8, 3)).astype(np.float32)
    y = (x[:, :, 0].sum(axis=1) > 0).astype(np.int64)          # the sign of a sum over time
    path = tmp_path / "seq.npz"
    np.savez(path, x_train=x, y_train=y)
    return path


def test_mnist1d_arrays_are_the_package_defaults_cached(tmp_path):
    from mnist1d.data import get_dataset_args, make_dataset
    state = np.random.get_state()
    a = mnist1d_arrays(tmp_path)
    ref = make_dataset(get_dataset_args())
    np.random.set_state(state)
    assert (tmp_path / "mnist1d.npz").is_file()
    assert a["x"].shape == (4000, 40, 1) and a["x_test"].shape == (1000, 40, 1) and a["x"].dtype == np.float32
    np.testing.assert_allclose(a["x_test"][:, :, 0], ref["x_test"], rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(a["y"], ref["y"])
    again = mnist1d_arrays(tmp_path)                                # from the cache, same arrays
    np.testing.assert_array_equal(again["x"], a["x"])


def test_mnist1d_generation_leaves_numpy_global_state_alone(tmp_path):
    np.random.seed(7)
    expected = np.random.rand()
    np.random.seed(7)
    mnist1d_arrays(tmp_path)
    assert np.random.rand() == expected


def test_mnist1d_missing_package_is_one_line_cli_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "mnist1d", None)
    monkeypatch.setitem(sys.modules, "mnist1d.data", None)
    monkeypatch.setattr("descend.data.mnist1d.cache_dir", lambda: tmp_path)
    assert main(["train", "--set", "data.name='mnist1d'", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"descend: error: {MISSING_MESSAGE}" and "pip install 'descend[sequence]'" in err


def test_text_windows_predict_the_next_character(text_file):
    s = load_text(text_file, context=16, val_fraction=0.1, test_fraction=0.1)
    vocab = s.class_names
    assert s.task == "language-model" and s.num_outputs == len(set(TEXT)) and vocab == sorted(set(TEXT))
    assert s.x_train.shape[1:] == (16,) and s.x_train.dtype == np.int64
    np.testing.assert_array_equal(s.x_train[:, 1:], s.y_train[:, :-1])        # y is x shifted by one
    assert decode(s.x_train[0], vocab) == TEXT[:16] and decode(s.y_train[0], vocab) == TEXT[1:17]
    n = len(TEXT)
    assert len(s.x_train) == (n - 2 * int(n * 0.1) - 1) // 16 and len(s.x_test) == (int(n * 0.1) - 1) // 16
    with pytest.raises(ValueError, match="not in the model's vocabulary"):
        encode("Z€", vocab)


def test_token_cross_entropy_matches_torch():
    rng = np.random.default_rng(1)
    s, y = rng.standard_normal((3, 5, 7)), rng.integers(0, 7, (3, 5))
    got = LOSSES.build("language-model")(as_tensor(s.astype(np.float32)), as_tensor(y))
    want = torch.nn.functional.cross_entropy(torch.tensor(s).permute(0, 2, 1), torch.tensor(y))
    assert abs(float(got.array) - want.item()) < 1e-6


@pytest.mark.parametrize("preset", ["lstm", "transformer"])
def test_language_model_presets_are_causal(preset):
    cfg = resolve_config({"model": {"preset": preset, "hidden": [16, 16]}})
    model = build_model(cfg["model"], (12,), 9, per_step=True)
    model.eval()
    ids = np.random.default_rng(0).integers(0, 9, (2, 12))
    changed = ids.copy()
    changed[:, 6:] = (changed[:, 6:] + 1) % 9
    a, b = (np.asarray(model(as_tensor(v)).array) for v in (ids, changed))
    assert a.shape == (2, 12, 9)
    np.testing.assert_allclose(a[:, :6], b[:, :6], atol=1e-6)          # steps < 6 do not see steps >= 6
    assert np.abs(a[:, 6:] - b[:, 6:]).max() > 1e-4


@pytest.mark.parametrize("preset", ["rnn", "lstm", "gru", "transformer"])
def test_sequence_presets_classify_feature_sequences(preset):
    cfg = resolve_config({"model": {"preset": preset, "hidden": [16]}})
    model = build_model(cfg["model"], (10, 3), 4)
    out = model(as_tensor(np.zeros((5, 10, 3), np.float32)))
    assert out.shape == (5, 4)


def test_sequence_preset_refuses_images_in_one_line():
    cfg = resolve_config({"model": {"preset": "gru"}})
    with pytest.raises(ValueError, match="needs sequences"):
        build_model(cfg["model"], (1, 8, 8), 10)


def test_gru_on_npz_sequences_learns_and_health_records_the_gru(seq_npz, tmp_path):
    r = run_training({"data": {"path": str(seq_npz), "batch_size": 32}, "model": {"preset": "gru", "hidden": [32]},
                      "optimizer": {"name": "adam", "lr": 0.01}, "train": {"epochs": 5},
                      "diagnose": {"every": 5}}, out=tmp_path / "run", progress=False)
    assert r.summary["test_accuracy"] >= 0.85, r.summary
    _, records, _ = load_run_health(tmp_path / "run")
    gru = [rec for rec in records if rec["kind"] == "GRU"]
    assert gru and all(math.isfinite(float(rec["grad_norm"])) and float(rec["grad_norm"]) > 0 for rec in gru)
    assert all(math.isfinite(float(rec["act_std"])) for rec in gru)


def test_char_lm_run_reports_bits_per_char_and_generates(text_file, tmp_path, capsys):
    out = tmp_path / "lm"
    r = run_training({"data": {"path": str(text_file), "context": 32, "batch_size": 16},
                      "model": {"preset": "transformer", "hidden": [32]},
                      "optimizer": {"name": "adam", "lr": 0.01}, "train": {"epochs": 3, "clip_grad_norm": 1.0},
                      "diagnose": {"every": 5}}, out=out, progress=False)
    s = json.loads((out / "summary.json").read_text())
    assert s["task"] == "language-model"
    assert s["val_bits_per_char"] == pytest.approx(s["val_loss"] / math.log(2))
    counts = np.unique(list(TEXT), return_counts=True)[1] / len(TEXT)
    unigram = float(-(counts * np.log(counts)).sum())
    assert s["val_loss"] < 0.6 * unigram, (s["val_loss"], unigram)     # a repeated text is learnt well
    assert "bits_per_char" in (out / "report.html").read_text()
    _, records, _ = load_run_health(out)
    assert any(rec["kind"] == "MultiheadAttention" and float(rec["grad_norm"]) > 0 for rec in records)
    from descend.app import evaluate_run
    ev = evaluate_run(out, split="val")
    assert ev["loss"] == pytest.approx(s["val_loss"], rel=1e-4) and "bits_per_char" in ev
    text = generate_text(out, "descend ", length=40, temperature=0)
    assert text.startswith("descend ") and len(text) == len("descend ") + 40 and set(text) <= set(TEXT)
    assert text == generate_text(out, "descend ", length=40, temperature=0, seed=5)     # greedy
    assert main(["generate", str(out), "--prompt", "The ", "--length", "25", "--temperature", "0.8",
                 "--top-k", "5"]) == 0
    printed = capsys.readouterr().out.rstrip("\n")
    assert printed.startswith("The ") and len(printed) == 29 and set(printed) <= set(TEXT)
    assert r.model is not None


def test_generate_refuses_bad_arguments_and_classification_runs(seq_npz, tmp_path, capsys):
    run_training({"data": {"path": str(seq_npz)}, "model": {"preset": "rnn", "hidden": [8]},
                  "train": {"epochs": 1}, "diagnose": {"monitor": False}}, out=tmp_path / "c", progress=False)
    assert main(["generate", str(tmp_path / "c"), "--prompt", "x"]) == 2
    assert "is a classification run" in capsys.readouterr().err
    with pytest.raises(ValueError, match="temperature must be"):
        generate_text(tmp_path / "c", "x", temperature=-1)
    with pytest.raises(ValueError, match="length must be"):
        generate_text(tmp_path / "c", "x", length=-3)
