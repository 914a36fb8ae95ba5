"""Learning proofs from the config: a GRU on MNIST-1D and a character-level Transformer on this project's docs.

Both are CI-sized versions of longer runs (see docs/sequence.md for the full runs' numbers): a 3-epoch GRU(64)
(measured: test accuracy 0.414; chance 0.1) and a 6-epoch one-layer Transformer on the first 100 kB of the
docs (measured: validation loss 2.49 nats/char against the text's unigram entropy 3.47)."""

import glob
import math
from collections import Counter
from pathlib import Path

import pytest

from descend.app import run_training

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_gru_on_mnist1d_learns_well_above_chance(tmp_path):
    r = run_training({"data": {"name": "mnist1d", "batch_size": 50}, "model": {"preset": "gru", "hidden": [64]},
                      "optimizer": {"name": "adam", "lr": 5e-3}, "train": {"epochs": 3, "clip_grad_norm": 1.0},
                      "diagnose": {"monitor": False}}, out=tmp_path / "gru", progress=False)
    assert r.summary["test_accuracy"] >= 0.35, r.summary          # chance is 0.1
    assert r.summary["test_loss"] < math.log(10) - 0.6       # measured 1.43-1.50 against ln 10 = 2.30


@pytest.mark.slow
def test_char_transformer_beats_the_unigram_entropy_of_english_docs(tmp_path):
    files = sorted(glob.glob(str(ROOT / "docs" / "*.md"))) + [str(ROOT / "README.md")]
    text = "".join(Path(p).read_text(encoding="utf-8") for p in files)[:100_000]
    assert len(text) == 100_000
    path = tmp_path / "docs.txt"
    path.write_text(text, encoding="utf-8")
    counts = Counter(text)
    unigram = -sum(c / len(text) * math.log(c / len(text)) for c in counts.values())    # nats per char
    r = run_training({"data": {"path": str(path), "batch_size": 32, "context": 32},
                      "model": {"preset": "transformer", "hidden": [64]}, "optimizer": {"name": "adam", "lr": 5e-3},
                      "train": {"epochs": 6, "clip_grad_norm": 1.0}, "diagnose": {"monitor": False}},
                     out=tmp_path / "lm", progress=False)
    s = r.summary
    assert s["val_loss"] < unigram - 0.75, (s["val_loss"], unigram)
    assert s["val_bits_per_char"] == pytest.approx(s["val_loss"] / math.log(2))
