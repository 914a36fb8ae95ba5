"""`descend predict` on a language-model run: next-character probabilities for a text file or --prompt,
the loss in nats and bits per character, each prediction made from the model's own window, and the errors."""

import csv
import math

import numpy as np
import pytest

from descend.app import load_run, run_training
from descend.app.predict_text import next_char_probabilities, predict_text
from descend.cli import main
from descend.creation import as_tensor
from descend.data.text import encode

TEXT = ("descend trains neural networks on NumPy. The trainer reads a config, builds the model, and writes a "
        "run folder with a report. ") * 60
CONTEXT = 32


@pytest.fixture(scope="module")
def lm_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("lm")
    (root / "book.txt").write_text(TEXT, encoding="utf-8")
    run_training({"data": {"path": str(root / "book.txt"), "context": CONTEXT, "batch_size": 16},
                  "model": {"preset": "transformer", "hidden": [32]},
                  "optimizer": {"name": "adam", "lr": 0.01}, "train": {"epochs": 3, "clip_grad_norm": 1.0},
                  "diagnose": {"monitor": False}}, out=root / "run", progress=False)
    return root / "run"


def _softmax(s):
    z = np.exp(s - s.max())
    return z / z.sum()


def test_each_next_char_distribution_is_the_models_last_step_on_a_window_of_half_to_full_context(lm_run):
    _, model, meta = load_run(lm_run)
    ids = encode(TEXT[:300], meta["class_names"])
    p = next_char_probabilities(model, ids, CONTEXT)
    assert p.shape == (300, len(meta["class_names"]))
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-9)
    for i in (0, 5, CONTEXT - 1, CONTEXT, CONTEXT + 7, 151, 299):
        # the text's start when i < context, else a window of at least context/2 and at most context characters
        starts = [0] if i < CONTEXT else range(i + 1 - CONTEXT, i + 2 - CONTEXT // 2)
        direct = [_softmax(np.asarray(model(as_tensor(ids[None, s:i + 1])).array, np.float64)[0, -1])
                  for s in starts]
        assert any(np.allclose(p[i], d, atol=1e-5) for d in direct), i


def test_predict_on_a_prompt_writes_per_character_rows_and_prints_bits_per_char(lm_run, tmp_path, capsys):
    prompt = TEXT[:200]
    assert main(["predict", str(lm_run), "--prompt", prompt, "-o", str(tmp_path / "p.csv")]) == 0
    out = capsys.readouterr().out.splitlines()
    rows = list(csv.DictReader((tmp_path / "p.csv").open(encoding="utf-8")))
    assert len(rows) == 200 and "".join(r["char"] for r in rows) == prompt
    assert [r["next"] for r in rows[:-1]] == list(prompt[1:]) and rows[-1]["next"] == ""
    bits = np.array([float(r["bits"]) for r in rows[:-1]])
    np.testing.assert_allclose(bits, -np.log2([float(r["p_next"]) for r in rows[:-1]]), rtol=1e-4)
    assert out[0] == str(tmp_path / "p.csv") and f"{bits.mean():.4f} bits/char" in out[1]
    counts = np.unique(list(TEXT), return_counts=True)[1] / len(TEXT)
    unigram_bits = float(-(counts * np.log2(counts)).sum())
    assert bits.mean() < 0.6 * unigram_bits, (bits.mean(), unigram_bits)   # the repeated text is predicted well
    accuracy = np.mean([r["prediction"] == r["next"] for r in rows[:-1]])
    assert accuracy > 0.5


def test_predict_on_a_text_file_writes_probabilities_and_the_loss_to_npz(lm_run, tmp_path):
    (tmp_path / "in.txt").write_text(TEXT[:500], encoding="utf-8")
    path, summary = predict_text(lm_run, tmp_path / "in.txt", tmp_path / "p.npz")
    with np.load(path) as z:
        p, vocab, ids = z["probabilities"], list(z["vocabulary"]), z["ids"]
        loss, bpc = float(z["loss"]), float(z["bits_per_char"])
    assert p.shape == (500, len(vocab)) and "".join(vocab[i] for i in ids) == TEXT[:500]
    expected = -np.log(p[np.arange(499), ids[1:]].astype(np.float64)).mean()
    assert loss == pytest.approx(expected, rel=1e-4) and bpc == pytest.approx(loss / math.log(2))
    assert summary == {"characters": 500, "loss": pytest.approx(loss), "bits_per_char": pytest.approx(bpc)}


@pytest.mark.parametrize("args,message", [
    (["IN", "--prompt", "descend"], "not both"),
    ([], "give a text file"),
    (["--prompt", "descend§"], "not in the model's vocabulary"),
    (["x.npz"], "reads a UTF-8 text file"),
    (["--prompt", ""], "empty"),
])
def test_predict_on_a_language_model_refuses_bad_inputs_in_one_line(lm_run, tmp_path, capsys, args, message):
    (tmp_path / "IN.txt").write_text("descend", encoding="utf-8")
    args = [str(tmp_path / "IN.txt") if a == "IN" else a for a in args]
    assert main(["predict", str(lm_run), *args, "-o", str(tmp_path / "p.csv")]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


def test_prompt_is_refused_for_a_classification_run(tmp_path, capsys):
    run_training({"model": {"preset": "mlp", "hidden": [8]}, "train": {"epochs": 1},
                  "diagnose": {"monitor": False}}, out=tmp_path / "c", progress=False)
    assert main(["predict", str(tmp_path / "c"), "--prompt", "x", "-o", str(tmp_path / "p.csv")]) == 2
    assert "--prompt needs a run trained on a text file" in capsys.readouterr().err
    assert main(["predict", str(tmp_path / "c"), "-o", str(tmp_path / "p.csv")]) == 2   # INPUT is needed there
    assert "give the inputs to predict on" in capsys.readouterr().err
