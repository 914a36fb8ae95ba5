"""The label rules of descend.data.splits.resolve_labels and the loaders: never a silent guess."""

import numpy as np
import pytest

from descend.data import load_csv, load_npz
from descend.data.splits import resolve_labels
from descend.data.validate import DataWarning


def test_integer_valued_floats_are_classes():
    y, task, names = resolve_labels(np.array([0.0, 2.0, 1.0]))
    assert task == "classification" and names is None and y.tolist() == [0.0, 2.0, 1.0]


def test_real_valued_floats_are_regression():
    assert resolve_labels(np.array([0.5, 2.25, 1.1]))[1] == "regression"


def test_mix_of_integer_and_non_integer_labels_names_rows_and_the_key():
    with pytest.raises(ValueError, match=r"mixes integer-valued labels \(3 values\) with non-integer ones \(1, "
                                         r"row 2, e.g. 1.5\).*data.task"):
        resolve_labels(np.array([0.0, 1.0, 1.5, 2.0]))
    assert resolve_labels(np.array([0.0, 1.0, 1.5]), task="regression")[1] == "regression"


def test_text_labels_are_sorted_classes_with_a_warning_unless_told():
    with pytest.warns(DataWarning, match=r"3 classes in sorted order \(a, b, c -> 0..2\)"):
        y, task, names = resolve_labels(np.array(["c", "a", "b", "a"]))
    assert (y.tolist(), task, names) == ([2, 0, 1, 0], "classification", ["a", "b", "c"])
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert resolve_labels(np.array(["c", "a"]), task="classification")[2] == ["a", "c"]
    with pytest.raises(ValueError, match="cannot be a regression target"):
        resolve_labels(np.array(["c", "a"]), task="regression")


def test_numeric_text_labels_follow_the_numeric_rules():
    y, task, names = resolve_labels(np.array([" 1", "0", "2 "]))
    assert task == "classification" and names is None and y.tolist() == [1.0, 0.0, 2.0]


def test_blank_labels_are_an_error_naming_the_rows():
    with pytest.raises(ValueError, match=r"blank labels \(rows 1, 3\)"):
        resolve_labels(np.array(["a", "", "b", " "]))


def test_npz_string_labels_become_classes_and_map_val_labels(tmp_path):
    x = np.zeros((20, 2), np.float32)
    np.savez(tmp_path / "s.npz", x_train=x, y_train=np.array(["b", "a"] * 10), x_val=x[:3],
             y_val=np.array(["a", "a", "b"]))
    with pytest.warns(DataWarning):
        s = load_npz(tmp_path / "s.npz", test_fraction=0)
    assert s.task == "classification" and s.class_names == ["a", "b"] and s.y_val.tolist() == [0, 0, 1]


def test_npz_val_label_unseen_in_training_is_refused(tmp_path):
    x = np.zeros((30, 2), np.float32)
    np.savez(tmp_path / "v.npz", x_train=x, y_train=np.arange(30) % 3, x_val=x[:2], y_val=np.array([1, 7]))
    with pytest.raises(ValueError, match=r"y_val holds labels never seen in training \(7; first at row 1, 1 "
                                         r"rows\); the training labels are 0..2"):
        load_npz(tmp_path / "v.npz")


def test_csv_blank_label_and_ragged_row_are_errors(tmp_path):
    (tmp_path / "b.csv").write_text("a,label\n1,0\n2,\n3,1\n")
    with pytest.raises(ValueError, match=r"blank labels \(row 1\)"):
        load_csv(tmp_path / "b.csv")
    (tmp_path / "r.csv").write_text("a,label\n1,0\n2,1,5\n")
    with pytest.raises(ValueError, match=r"data row 1 \(line 3\) has 3 fields but the header names 2"):
        load_csv(tmp_path / "r.csv")


def test_csv_with_byte_order_mark_reads_its_first_column_name(tmp_path):
    (tmp_path / "m.csv").write_bytes("\ufefflabel,a\n0,1\n1,2\n0,3\n1,4\n0,5\n1,6\n".encode())
    s = load_csv(tmp_path / "m.csv", val_fraction=0, test_fraction=0)
    assert s.task == "classification" and s.y_train.tolist() == [0, 1, 0, 1, 0, 1]
