"""Stratified splits, the DataSplits bundle and the train-only Standardizer."""

import dataclasses

import numpy as np
import pytest

from descend.data import DataSplits, Standardizer, infer_task, split_indices, train_val_test_split


def _imbalanced(seed=0):
    counts = [500, 230, 61, 17, 5]
    y = np.repeat(np.arange(5), counts)
    rng = np.random.default_rng(seed)
    y = rng.permutation(y)
    x = np.column_stack([np.arange(len(y)), rng.standard_normal(len(y))]).astype(np.float32)
    return x, y, np.array(counts)


@pytest.mark.parametrize("val_fraction,test_fraction", [(0.1, 0.2), (0.15, 0.15), (0.0, 0.3), (0.33, 0.0)])
def test_stratified_split_keeps_class_proportions_within_one_sample(val_fraction, test_fraction):
    x, y, counts = _imbalanced()
    s = train_val_test_split(x, y, val_fraction, test_fraction, seed=1)
    n = len(y)
    for frac, part in ((val_fraction, s.y_val), (test_fraction, s.y_test)):
        if frac == 0:
            assert part is None
            continue
        got = np.bincount(part, minlength=5)
        assert np.all(np.abs(got - frac * counts) <= 1), (got, frac * counts)
        assert len(part) == round(frac * n)
    train_expected = counts * (1 - val_fraction - test_fraction)
    assert np.all(np.abs(np.bincount(s.y_train, minlength=5) - train_expected) <= 2)


def test_split_is_a_partition_with_rows_aligned():
    x, y, _ = _imbalanced()
    s = train_val_test_split(x, y, 0.1, 0.2, seed=3)
    rows = np.concatenate([s.x_train[:, 0], s.x_val[:, 0], s.x_test[:, 0]]).astype(np.int64)
    np.testing.assert_array_equal(np.sort(rows), np.arange(len(y)))
    for xs, ys in ((s.x_train, s.y_train), (s.x_val, s.y_val), (s.x_test, s.y_test)):
        np.testing.assert_array_equal(y[xs[:, 0].astype(np.int64)], ys)
    assert s.task == "classification" and s.num_classes == 5 and s.input_shape == (2,)


def test_split_is_seeded():
    x, y, _ = _imbalanced()
    a = train_val_test_split(x, y, 0.1, 0.2, seed=4)
    b = train_val_test_split(x, y, 0.1, 0.2, seed=4)
    c = train_val_test_split(x, y, 0.1, 0.2, seed=5)
    np.testing.assert_array_equal(a.x_test, b.x_test)
    assert not np.array_equal(a.x_test, c.x_test)


def test_split_is_shuffled_not_grouped_by_class():
    y = np.repeat(np.arange(3), 100)
    train, _, _ = split_indices(y, 0.1, 0.1, seed=0)
    assert not np.all(np.diff(y[train]) >= 0)  # classes interleave


def test_regression_split_is_random_and_infers_task():
    x = np.arange(100, dtype=np.float32)[:, None]
    y = np.linspace(0, 1, 100, dtype=np.float32)[:, None]
    s = train_val_test_split(x, y, 0.2, 0.1, seed=0)
    assert s.task == "regression" and s.num_classes is None
    assert (len(s.y_train), len(s.y_val), len(s.y_test)) == (70, 20, 10)
    assert infer_task(np.array([1, 2])) == "classification" and infer_task(np.array([0.5])) == "regression"


def test_bad_fractions_are_rejected_with_the_value():
    x, y, _ = _imbalanced()
    with pytest.raises(ValueError, match=r"val_fraction must be a number in \[0, 1\), got 1.5"):
        train_val_test_split(x, y, 1.5, 0.1)
    with pytest.raises(ValueError, match="below 1"):
        train_val_test_split(x, y, 0.6, 0.5)
    with pytest.raises(ValueError, match="x has 813 rows but y has 3"):
        train_val_test_split(x, y[:3])


def test_standardizer_uses_training_statistics_only():
    rng = np.random.default_rng(0)
    x_train = rng.normal(3.0, 2.0, (400, 6)).astype(np.float32)
    x_test = rng.normal(-10.0, 7.0, (100, 6)).astype(np.float32)
    sc = Standardizer().fit(x_train)
    np.testing.assert_allclose(sc.mean[0], x_train.mean(0), rtol=1e-5)
    np.testing.assert_allclose(sc.std[0], x_train.std(0), rtol=1e-5)
    z_test = sc.transform(x_test)
    np.testing.assert_allclose(z_test, (x_test - x_train.mean(0)) / x_train.std(0), rtol=1e-4, atol=1e-4)
    z_train = sc.transform(x_train)
    np.testing.assert_allclose(z_train.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(z_train.std(0), 1, atol=1e-4)
    assert z_test.dtype == np.float32
    np.testing.assert_allclose(sc.inverse_transform(z_test), x_test, rtol=1e-5, atol=1e-4)


def test_splits_standardized_fits_on_train_only():
    rng = np.random.default_rng(1)
    x = rng.normal(0, 1, (300, 4)).astype(np.float32)
    y = rng.integers(0, 3, 300)
    s = train_val_test_split(x, y, 0.2, 0.2, seed=0)
    s = dataclasses.replace(s, x_test=s.x_test + 100.0)  # a shifted test set must stay shifted
    z, sc = s.standardized()
    np.testing.assert_allclose(sc.mean[0], s.x_train.mean(0), rtol=1e-5, atol=1e-6)
    assert z.x_test.mean() > 50
    np.testing.assert_allclose(z.x_train.mean(0), 0, atol=1e-5)


def test_zero_variance_feature_maps_to_zero_not_nan():
    x = np.column_stack([np.full(50, 7.0), np.arange(50.0)]).astype(np.float32)
    sc = Standardizer().fit(x)
    z = sc.transform(x)
    assert np.isfinite(z).all()
    np.testing.assert_array_equal(z[:, 0], 0)
    assert sc.std[0, 0] == 1.0


def test_per_channel_standardizer_and_state_roundtrip():
    rng = np.random.default_rng(2)
    x = (rng.random((20, 3, 4, 4)) * np.array([1, 10, 100])[None, :, None, None]).astype(np.float32)
    sc = Standardizer(axis=(0, 2, 3)).fit(x)
    assert sc.mean.shape == (1, 3, 1, 1)
    np.testing.assert_allclose(sc.mean.ravel(), x.mean(axis=(0, 2, 3)), rtol=1e-5)
    other = Standardizer(axis=(0, 2, 3))
    other.load_state_dict(sc.state_dict())
    np.testing.assert_array_equal(other.transform(x), sc.transform(x))
    with pytest.raises(ValueError, match=r"fitted on samples of shape \(3, 1, 1\)"):
        sc.transform(np.zeros((2, 5, 4, 4), np.float32))
    with pytest.raises(RuntimeError, match="not fitted"):
        Standardizer().transform(x)


def test_datasplits_infers_fields_and_validates():
    x = np.zeros((10, 1, 2, 2), np.float32)
    y = np.arange(10) % 3
    s = DataSplits(x, y, name="toy")
    assert (s.task, s.num_classes, s.input_shape, s.num_outputs) == ("classification", 3, (1, 2, 2), 3)
    assert "toy: 3 classes" in s.summary()
    bad = DataSplits(x, y, x_val=np.zeros((2, 1, 3, 3), np.float32), y_val=np.array([0, 1]))
    with pytest.raises(ValueError, match="sample shapes differ"):
        bad.validate()


def test_datasplits_loader_shuffles_train_only():
    x = np.arange(40, dtype=np.float32)[:, None]
    s = DataSplits(x, np.arange(40) % 2, x[:10], np.arange(10) % 2)
    train = s.loader("train", batch_size=40, seed=0)
    val = s.loader("val", batch_size=4)
    assert train.shuffle and not val.shuffle and len(val) == 3
    (xb, yb), = list(train)
    assert not np.array_equal(xb.array[:, 0], np.arange(40)) and sorted(xb.array[:, 0]) == list(range(40))
    with pytest.raises(ValueError, match=r"has no 'test' part; it has \['train', 'val'\]"):
        s.loader("test")
