"""CSVLogger and JSONLinesLogger: one row / line per epoch with the History's values; resumed runs append."""

import csv
import json

import numpy as np
import pytest

from descend.nn.linear import Linear
from descend.nn.loss import CrossEntropyLoss
from descend.optim import SGD
from descend.train import CSVLogger, JSONLinesLogger, Trainer


def fit(callbacks, epochs, **kwargs):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((40, 3)).astype(np.float32), rng.integers(0, 3, 40)
    trainer = Trainer(lambda: Linear(3, 3), CrossEntropyLoss(), lambda p: SGD(p, lr=0.1),
                      metrics=["accuracy", "confusion_matrix"], callbacks=callbacks, seed=0)
    return trainer.fit((x, y), (x, y), epochs=epochs, **kwargs)


def test_csv_logger_writes_the_history_scalars(tmp_path):
    path = tmp_path / "log.csv"
    history = fit([CSVLogger(path)], epochs=3)
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    assert "confusion_matrix" not in rows[0]  # arrays are left out
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "lr"):
        assert [float(r[key]) for r in rows] == pytest.approx(history.history[key], rel=1e-12)


def test_jsonl_logger_writes_strict_json_with_arrays_as_lists(tmp_path):
    path = tmp_path / "log.jsonl"
    history = fit([JSONLinesLogger(path)], epochs=2)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["epoch"] for r in lines] == [0, 1]
    assert [r["val_loss"] for r in lines] == history.val_loss
    assert np.array_equal(np.array(lines[1]["val_confusion_matrix"]), history.val_confusion_matrix[1])


def test_loggers_append_when_a_run_resumes(tmp_path):
    csv_path, jsonl_path, ckpt = tmp_path / "log.csv", tmp_path / "log.jsonl", tmp_path / "ckpt"
    fit([CSVLogger(csv_path), JSONLinesLogger(jsonl_path)], epochs=2, checkpoint_dir=ckpt)
    fit([CSVLogger(csv_path), JSONLinesLogger(jsonl_path)], epochs=4, resume_from=ckpt)
    with open(csv_path, newline="") as f:
        assert [int(r["epoch"]) for r in csv.DictReader(f)] == [0, 1, 2, 3]
    assert [json.loads(line)["epoch"] for line in jsonl_path.read_text().splitlines()] == [0, 1, 2, 3]
    # a fresh run overwrites
    fit([CSVLogger(csv_path)], epochs=1)
    with open(csv_path, newline="") as f:
        assert len(list(csv.DictReader(f))) == 1
