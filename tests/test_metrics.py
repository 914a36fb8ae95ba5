"""Metrics accumulated batch by batch equal sklearn.metrics on the whole arrays."""

import numpy as np
import pytest
from sklearn import metrics as skm

from descend.train import metrics as M


def _batches(n, size):
    return [slice(i, i + size) for i in range(0, n, size)]


@pytest.fixture
def classification():
    rng = np.random.default_rng(0)
    scores = rng.standard_normal((503, 7)).astype(np.float32)
    target = rng.integers(0, 7, 503)
    target[:200] = scores[:200].argmax(1)  # some signal so values are not all near chance
    return scores, target


def _accumulate(metric, output, target, size=64):
    metric.reset()
    for s in _batches(len(output), size):
        metric.update(output[s], target[s])
    return metric.compute()


def test_accuracy_over_uneven_batches_equals_sklearn(classification):
    scores, target = classification
    value = _accumulate(M.get_metric("accuracy"), scores, target)
    assert value == pytest.approx(skm.accuracy_score(target, scores.argmax(1)), abs=1e-12)


@pytest.mark.parametrize("name, cls, fn", [
    ("precision", M.Precision, skm.precision_score), ("recall", M.Recall, skm.recall_score),
    ("f1", M.F1Score, skm.f1_score)])
def test_macro_precision_recall_f1_equal_sklearn(classification, name, cls, fn):
    scores, target = classification
    metric = M.get_metric(name)
    assert isinstance(metric, cls) and metric.name == name
    expected = fn(target, scores.argmax(1), average="macro", zero_division=0)
    assert _accumulate(metric, scores, target, size=50) == pytest.approx(expected, abs=1e-12)


def test_macro_average_skips_classes_absent_from_targets_and_predictions_like_sklearn():
    # class 3 never occurs; class 2 is predicted but never true (precision 0)
    target = np.array([0, 0, 1, 1, 4, 4])
    pred = np.array([0, 1, 1, 2, 4, 0])
    scores = np.eye(5, dtype=np.float32)[pred]
    for metric, fn in ((M.Precision(), skm.precision_score), (M.Recall(), skm.recall_score),
                       (M.F1Score(), skm.f1_score)):
        assert metric(scores, target) == pytest.approx(fn(target, pred, average="macro", zero_division=0))


def test_confusion_matrix_equals_sklearn_and_grows_with_classes(classification):
    scores, target = classification
    cm = _accumulate(M.ConfusionMatrix(), scores, target, size=100)
    np.testing.assert_array_equal(cm, skm.confusion_matrix(target, scores.argmax(1)))
    fixed = M.ConfusionMatrix(num_classes=9)(scores, target)
    assert fixed.shape == (9, 9) and fixed[:7, :7].sum() == len(target)
    with pytest.raises(ValueError, match="num_classes=3"):
        M.ConfusionMatrix(num_classes=3)(scores, target)


def test_binary_scores_use_threshold_and_one_hot_targets_are_reduced():
    logits = np.array([-2.0, 0.5, 1.0, -0.1], dtype=np.float32)
    target = np.array([0, 1, 0, 0])
    assert M.Accuracy()(logits, target) == 0.75
    assert M.Accuracy(threshold=0.8)(logits[:, None], target) == 0.5
    one_hot = np.eye(3)[[0, 2, 1]]
    assert M.Accuracy()(np.eye(3)[[0, 2, 2]], one_hot) == pytest.approx(2 / 3)


@pytest.mark.parametrize("k", [1, 3, 5])
def test_top_k_accuracy_equals_sklearn(classification, k):
    scores, target = classification
    metric = M.get_metric(f"top{k}")
    assert metric.name == f"top{k}"
    expected = skm.top_k_accuracy_score(target, scores, k=k, labels=np.arange(7))
    assert _accumulate(metric, scores, target, size=33) == pytest.approx(expected, abs=1e-12)
    assert M.top_k_accuracy(k).k == k


def test_regression_metrics_equal_sklearn_over_batches():
    rng = np.random.default_rng(1)
    y = (rng.standard_normal((301, 3)) * [1, 10, 0.1] + [0, 1000, -5]).astype(np.float32)
    pred = (y + rng.standard_normal(y.shape) * 0.3).astype(np.float32)
    y64, p64 = y.astype(np.float64), pred.astype(np.float64)
    assert _accumulate(M.get_metric("mse"), pred, y) == pytest.approx(skm.mean_squared_error(y64, p64), rel=1e-9)
    assert _accumulate(M.get_metric("mae"), pred, y) == pytest.approx(skm.mean_absolute_error(y64, p64), rel=1e-9)
    # R² with a large offset (1000) in one column: the merged variance must stay accurate
    assert _accumulate(M.get_metric("r2"), pred, y, size=17) == pytest.approx(skm.r2_score(y64, p64), rel=1e-9)
    # a 1-d target against a (N, 1) output
    assert M.R2Score()(pred[:, :1], y[:, 0]) == pytest.approx(skm.r2_score(y64[:, 0], p64[:, 0]), rel=1e-9)


def test_r2_of_a_perfect_fit_is_one_and_of_the_mean_is_zero():
    y = np.linspace(-3, 3, 50)
    assert M.R2Score()(y, y) == 1.0
    assert M.R2Score()(np.full_like(y, y.mean()), y) == pytest.approx(0.0, abs=1e-12)


def test_unknown_metric_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match="accuracy"):
        M.get_metric("acuracy")
    with pytest.raises(ValueError, match="k >= 1"):
        M.TopKAccuracy(0)
    with pytest.raises(ValueError, match="3 targets"):
        M.Accuracy()(np.zeros((4, 2)), np.zeros(3, dtype=int))
