"""Pre-training validation: every error names the data set part, the first bad row and the count."""

import numpy as np
import pytest

from descend.data import DataSplits, load_npz
from descend.data.validate import check_finite, check_labels, check_part


def test_nan_rows_are_reported_first_row_and_count():
    x = np.ones((300, 4, 2), np.float32)
    x[17, 0, 1] = np.nan
    x[40, 3, 0] = np.nan
    x[212, 1, 1] = np.inf
    with pytest.raises(ValueError, match=r"x_train row 17 contains NaN \(3 rows affected: 17, 40, 212\)"):
        check_finite(x, "x_train")


def test_inf_is_named_and_long_lists_are_cut():
    x = np.zeros((100, 2))
    x[5:50, 1] = -np.inf
    with pytest.raises(ValueError, match=r"x_val row 5 contains inf \(45 rows affected: 5, 6, .*, 14, \.\.\. \(35 more\)\)"):
        check_finite(x, "x_val")
    check_finite(np.arange(5), "x")  # integers cannot hold NaN: no error


def test_labels_out_of_range_negative_or_fractional():
    with pytest.raises(ValueError, match=r"y_train row 3 holds the label 10, out of range for 10 classes \(2 rows affected: 3, 8\)"):
        check_labels(np.array([0, 1, 2, 10, 4, 5, 6, 7, 12, 9]), "y_train", 10)
    with pytest.raises(ValueError, match=r"y_test row 1 holds the negative label -1"):
        check_labels(np.array([0, -1, 2]), "y_test", 3)
    with pytest.raises(ValueError, match=r"y_train row 2 holds the non-integer label .*0.5"):
        check_labels(np.array([0.0, 1.0, 0.5]), "y_train", 3)
    with pytest.raises(ValueError, match=r"1-D class indices, got shape \(3, 2\)"):
        check_labels(np.zeros((3, 2), int), "y_train")


def test_part_checks_lengths_and_emptiness():
    with pytest.raises(ValueError, match="x_train has 5 rows but y_train has 4"):
        check_part(np.zeros((5, 2)), np.zeros(4, int), "train", "classification")
    with pytest.raises(ValueError, match=r"x_val is empty \(shape \(0, 2\)\)"):
        check_part(np.zeros((0, 2)), np.zeros(0, int), "val", "classification")
    with pytest.raises(ValueError, match="y_test row 1 contains NaN"):
        check_part(np.zeros((3, 2)), np.array([[0.0], [np.nan], [1.0]]), "test", "regression")


def test_datasplits_validate_checks_every_part_with_num_classes():
    x = np.zeros((6, 2), np.float32)
    s = DataSplits(x, np.array([0, 1, 2, 0, 1, 2]), x, np.array([0, 1, 2, 0, 1, 3]), num_classes=3)
    with pytest.raises(ValueError, match=r"y_val row 5 holds the label 3, out of range for 3 classes"):
        s.validate()


def test_loaders_validate_files(tmp_path):
    x = np.ones((20, 3))
    x[7, 2] = np.nan
    np.savez(tmp_path / "nan.npz", x_train=x, y_train=np.arange(20) % 2)
    with pytest.raises(ValueError, match=r"x_train row \d+ contains NaN \(1 row affected"):
        load_npz(tmp_path / "nan.npz", val_fraction=0.0, test_fraction=0.0)
    np.savez(tmp_path / "neg.npz", x_train=np.ones((4, 2)), y_train=np.array([0, 1, -3, 1]))
    with pytest.raises(ValueError, match=r"y_train row 2 holds the negative label -3"):
        load_npz(tmp_path / "neg.npz", val_fraction=0.0, test_fraction=0.0)
