"""Built-in data sets and file readers: digits, Fashion-MNIST, IDX folders, .npz, .csv, synthetic regression."""

import os

import numpy as np
import pytest

from descend.data import (FASHION_MNIST_DIR, load_csv, load_dataset, load_fashion_mnist, load_npz,
                          make_regression, write_idx)


def _sizes(s):
    return tuple(None if x is None else len(x) for x in (s.x_train, s.x_val, s.x_test))


def test_digits_loads_1797_images_in_10_classes():
    s = load_dataset("digits")
    total = sum(len(x) for x in (s.x_train, s.x_val, s.x_test))
    assert total == 1797 and _sizes(s) == (1797 - 180 - 359, 180, 359)
    assert s.x_train.shape[1:] == (1, 8, 8) and s.input_shape == (1, 8, 8)
    assert s.x_train.dtype == np.float32 and s.y_train.dtype == np.int64
    assert 0.0 == min(x.min() for x in (s.x_train, s.x_test)) and max(x.max() for x in (s.x_train, s.x_test)) == 1.0
    assert s.task == "classification" and s.num_classes == 10 and s.class_names == [str(d) for d in range(10)]
    assert set(np.unique(s.y_test)) == set(range(10))
    np.testing.assert_array_equal(load_dataset("digits").x_val, s.x_val)  # seeded


def test_digits_pixels_match_sklearn_scaled():
    from sklearn.datasets import load_digits as sk

    raw = sk()
    s = load_dataset("digits", val_fraction=0.0, test_fraction=0.0)
    # the training part is a permutation of the whole set: match rows by their content
    key = lambda a: np.lexsort(a.reshape(len(a), -1).T)  # noqa: E731
    ours = s.x_train.reshape(1797, 64)
    ref = raw.data.astype(np.float32) / 16
    np.testing.assert_allclose(ours[key(ours)], ref[key(ref)])


@pytest.mark.skipif(not os.path.isdir(FASHION_MNIST_DIR),
                    reason="Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
def test_real_fashion_mnist_has_60000_train_and_10000_test_images():
    s = load_dataset("fashion-mnist")
    assert len(s.x_train) + len(s.x_val) == 60000 and len(s.x_test) == 10000 and len(s.x_val) == 6000
    assert s.x_test.shape == (10000, 1, 28, 28) and s.x_test.dtype == np.float32
    assert 0.0 <= s.x_test.min() and s.x_test.max() == 1.0
    assert s.num_classes == 10 and s.class_names[9] == "Ankle boot"
    np.testing.assert_array_equal(np.bincount(s.y_test), [1000] * 10)  # the test set is balanced
    np.testing.assert_array_equal(np.bincount(s.y_val), [600] * 10)    # stratified validation split


def test_missing_fashion_mnist_gives_the_install_hint(tmp_path):
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist"):
        load_fashion_mnist(path=str(tmp_path / "nowhere"))


def _idx_folder(tmp_path, gz, n_train=60, n_test=20, hw=(6, 5)):
    rng = np.random.default_rng(0)
    parts = {}
    suffix = ".gz" if gz else ""
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, *hw), dtype=np.uint8)
        labels = (np.arange(n) % 4).astype(np.uint8)
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte{suffix}", images)
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte{suffix}", labels)
        parts[prefix] = (images, labels)
    return parts


@pytest.mark.parametrize("gz", [False, True])
def test_idx_folder_loads_mnist_layout(tmp_path, gz):
    parts = _idx_folder(tmp_path, gz)
    s = load_dataset(str(tmp_path), val_fraction=0.25, seed=0)
    assert _sizes(s) == (45, 15, 20) and s.input_shape == (1, 6, 5) and s.num_classes == 4
    images, labels = parts["t10k"]
    np.testing.assert_allclose(s.x_test[:, 0], images.astype(np.float32) / 255, rtol=1e-6)
    np.testing.assert_array_equal(s.y_test, labels)
    np.testing.assert_array_equal(np.bincount(s.y_val), [4, 4, 4, 3])  # 15 of 60 split by class
    assert s.name == os.path.basename(str(tmp_path))


def test_idx_folder_errors(tmp_path):
    (tmp_path / "readme.txt").write_text("hi")
    with pytest.raises(FileNotFoundError, match=r"files found: \['readme.txt'\]"):
        load_dataset(str(tmp_path))
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((5, 2, 2), np.uint8))
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(4, np.uint8))
    with pytest.raises(ValueError, match="train images hold 5 samples but train labels 4"):
        load_dataset(str(tmp_path))


def test_npz_with_all_parts(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {f"x_{p}": rng.standard_normal((n, 3)) for p, n in (("train", 50), ("val", 10), ("test", 12))}
    arrays |= {f"y_{p}": rng.integers(0, 3, n) for p, n in (("train", 50), ("val", 10), ("test", 12))}
    np.savez(tmp_path / "mine.npz", **arrays, class_names=np.array(["a", "b", "c"]))
    s = load_dataset(str(tmp_path / "mine.npz"))
    assert _sizes(s) == (50, 10, 12) and s.name == "mine" and s.class_names == ["a", "b", "c"]
    np.testing.assert_allclose(s.x_val, arrays["x_val"].astype(np.float32))
    assert s.x_train.dtype == np.float32 and s.y_train.dtype == np.int64


def test_npz_regression_missing_parts_are_split_off(tmp_path):
    x = np.random.default_rng(0).standard_normal((100, 2))
    np.savez(tmp_path / "r.npz", x_train=x, y_train=x.sum(1))
    s = load_npz(tmp_path / "r.npz", val_fraction=0.1, test_fraction=0.2)
    assert s.task == "regression" and _sizes(s) == (70, 10, 20) and s.y_train.shape == (70, 1)
    np.testing.assert_allclose(s.y_train[:, 0], s.x_train.sum(1), rtol=1e-5, atol=1e-6)


def test_npz_missing_arrays_are_listed(tmp_path):
    np.savez(tmp_path / "w.npz", features=np.zeros((3, 2)), labels=np.zeros(3))
    with pytest.raises(ValueError, match=r"lacks \['x_train', 'y_train'\]; it holds arrays \['features', 'labels'\]"):
        load_dataset(str(tmp_path / "w.npz"))
    np.savez(tmp_path / "v.npz", x_train=np.zeros((3, 2)), y_train=np.zeros(3, int), x_val=np.zeros((1, 2)))
    with pytest.raises(ValueError, match="only one of x_val / y_val"):
        load_dataset(str(tmp_path / "v.npz"))


def test_csv_classification_with_text_labels(tmp_path):
    rows = ["a,b,species"] + [f"{i},{i * 2.5},{'setosa' if i % 2 else 'virginica'}" for i in range(40)]
    (tmp_path / "iris.csv").write_text("\n".join(rows) + "\n")
    s = load_dataset(str(tmp_path / "iris.csv"), label_column="species", val_fraction=0.0, test_fraction=0.25)
    assert s.class_names == ["setosa", "virginica"] and s.num_classes == 2 and _sizes(s) == (30, None, 10)
    np.testing.assert_allclose(s.x_train[:, 1], s.x_train[:, 0] * 2.5)
    np.testing.assert_array_equal(s.y_train, (s.x_train[:, 0] % 2 == 0).astype(np.int64))


def test_csv_integer_labels_in_any_column_and_regression(tmp_path):
    rows = ["label,f1,f2"] + [f"{i % 3},{i},{-i}" for i in range(30)]
    (tmp_path / "c.csv").write_text("\n".join(rows))
    s = load_csv(tmp_path / "c.csv", test_fraction=0.0, val_fraction=0.0)
    assert s.task == "classification" and s.num_classes == 3
    np.testing.assert_array_equal(s.y_train, s.x_train[:, 0].astype(int) % 3)
    rows = ["x,target"] + [f"{i},{i * 0.5 + 0.1}" for i in range(30)]
    (tmp_path / "r.csv").write_text("\n".join(rows))
    r = load_csv(tmp_path / "r.csv", label_column="target")
    assert r.task == "regression" and r.y_train.dtype == np.float32 and r.y_train.shape[1] == 1
    np.testing.assert_allclose(r.y_train[:, 0], r.x_train[:, 0] * 0.5 + 0.1, rtol=1e-6)


def test_csv_errors_name_the_column(tmp_path):
    (tmp_path / "a.csv").write_text("x,y\n1,0\n2,1\n")
    with pytest.raises(ValueError, match=r"no column named 'label'; the header has \['x', 'y'\]"):
        load_csv(tmp_path / "a.csv")
    (tmp_path / "b.csv").write_text("x,colour,label\n1,red,0\n2,2,1\n")
    with pytest.raises(ValueError, match=r"feature column 'colour' is not numeric \(data row 0: 'red'\)"):
        load_csv(tmp_path / "b.csv")


def test_synthetic_regression_follows_its_formula():
    s = make_regression(n_samples=500, n_features=4, noise=0.0, seed=3, val_fraction=0.0, test_fraction=0.0)
    w = s.extra["weights"]
    expected = s.x_train @ w + 0.5 * np.sin(3 * s.x_train[:, 0])
    np.testing.assert_allclose(s.y_train[:, 0], expected, rtol=1e-4, atol=1e-5)
    noisy = make_regression(n_samples=4000, n_features=4, noise=0.3, seed=3, val_fraction=0.0, test_fraction=0.0)
    resid = noisy.y_train[:, 0] - (noisy.x_train @ w + 0.5 * np.sin(3 * noisy.x_train[:, 0]))
    assert abs(resid.std() - 0.3) < 0.02
    assert load_dataset("regression").task == "regression"


def test_unknown_name_lists_the_choices():
    with pytest.raises(ValueError, match=r"unknown data set 'cifar'.*digits.*fashion-mnist.*regression"):
        load_dataset("cifar")
    with pytest.raises(FileNotFoundError, match="data file not found"):
        load_dataset("/nonexistent/file.npz")


def test_unknown_keyword_lists_the_accepted_ones():
    with pytest.raises(TypeError, match=r"load_digits does not take \['label_column'\]; it accepts \['val_fraction'"):
        load_dataset("digits", label_column="y")


def test_csv_quoted_fields_with_commas_and_quotes_parse_as_the_csv_standard_says(tmp_path):
    import csv

    rows = [["x 1", "label", "x,2"], ["1.5", "red, dark", "2"], ["3", 'say "hi"', "4"], ["5", "red, dark", "6"]]
    with open(tmp_path / "q.csv", "w", newline="") as fh:
        csv.writer(fh, quoting=csv.QUOTE_ALL).writerows(rows)
    assert '"red, dark"' in (tmp_path / "q.csv").read_text()
    s = load_csv(tmp_path / "q.csv", val_fraction=0.0, test_fraction=0.0)
    assert s.class_names == ["red, dark", 'say "hi"']
    np.testing.assert_array_equal(s.x_train, np.array([[1.5, 2], [3, 4], [5, 6]], np.float32))
    np.testing.assert_array_equal(s.y_train, [0, 1, 0])
