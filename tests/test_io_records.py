"""History files: CSV and JSON lines written atomically and read back with their values and types."""

import math

import numpy as np
import pytest

from descend.io import append_jsonl, read_history_csv, read_jsonl, write_history_csv, write_jsonl
from descend.train.history import History


def test_csv_round_trips_numbers_exactly_with_types(tmp_path):
    rows = [{"epoch": 0, "loss": 1 / 3, "val_loss": float("nan"), "lr": 0.1, "best": True, "note": "warm-up"},
            {"epoch": 1, "loss": np.float64(0.1) + np.float64(0.2), "val_loss": float("inf"), "lr": 1e-300,
             "best": False, "note": None},
            {"epoch": 2, "loss": np.float32(0.25), "lr": -0.0, "note": "a, \"quoted\" note"}]
    path = write_history_csv(rows, tmp_path / "h.csv")
    back = read_history_csv(path)
    assert [r["epoch"] for r in back] == [0, 1, 2] and all(type(r["epoch"]) is int for r in back)
    assert back[0]["loss"] == 1 / 3 and back[1]["loss"] == 0.1 + 0.2        # repr: exact
    assert math.isnan(back[0]["val_loss"]) and back[1]["val_loss"] == math.inf
    assert back[1]["lr"] == 1e-300 and math.copysign(1, back[2]["lr"]) == -1
    assert back[2]["loss"] == 0.25
    assert back[0]["best"] is True and back[1]["best"] is False and back[2]["best"] is None
    assert back[0]["note"] == "warm-up" and back[1]["note"] is None and back[2]["note"] == 'a, "quoted" note'
    assert list(back[0]) == ["epoch", "loss", "val_loss", "lr", "best", "note"]


def test_csv_accepts_history_and_column_dict(tmp_path):
    h = History()
    h.append(0, {"loss": 0.9, "accuracy": 0.5})
    h.append(1, {"loss": 0.4, "accuracy": 0.75})
    assert read_history_csv(write_history_csv(h, tmp_path / "a.csv")) == [
        {"epoch": 0, "loss": 0.9, "accuracy": 0.5}, {"epoch": 1, "loss": 0.4, "accuracy": 0.75}]
    cols = {"loss": [0.9, 0.4], "accuracy": [0.5, 0.75]}
    assert read_history_csv(write_history_csv(cols, tmp_path / "b.csv", columns=["accuracy"])) == [
        {"accuracy": 0.5}, {"accuracy": 0.75}]
    with pytest.raises(ValueError, match="different lengths"):
        write_history_csv({"loss": [1, 2], "acc": [1]}, tmp_path / "c.csv")


def test_csv_errors_are_clear(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ValueError, match="empty"):
        read_history_csv(tmp_path / "empty.csv")
    (tmp_path / "ragged.csv").write_text("a,b\n1,2\n3\n")
    with pytest.raises(ValueError, match="line 3 has 1 cells, the header has 2"):
        read_history_csv(tmp_path / "ragged.csv")
    with pytest.raises(TypeError, match="row 1"):
        write_history_csv([{"a": 1}, 5], tmp_path / "x.csv")


def test_jsonl_write_append_read(tmp_path):
    path = write_jsonl([{"epoch": 0, "loss": np.float32(0.5), "w": np.array([1, 2])}], tmp_path / "log.jsonl")
    append_jsonl({"epoch": 1, "loss": float("nan"), "nested": {"a": [1.5, float("inf")]}}, path)
    assert read_jsonl(path) == [{"epoch": 0, "loss": 0.5, "w": [1, 2]},
                                {"epoch": 1, "loss": None, "nested": {"a": [1.5, None]}}]
    assert "NaN" not in path.read_text() and "Infinity" not in path.read_text()   # standard JSON only


def test_jsonl_skips_a_torn_last_line_but_rejects_corruption_elsewhere(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_text('{"epoch": 0}\n{"epoch": 1}\n{"epo')
    assert read_jsonl(path) == [{"epoch": 0}, {"epoch": 1}]
    path.write_text('{"epoch": 0}\n{"epo\n{"epoch": 2}\n')
    with pytest.raises(ValueError, match="line 2 is not valid JSON"):
        read_jsonl(path)
    with pytest.raises(TypeError, match="must be a dict"):
        append_jsonl([1, 2], path)
