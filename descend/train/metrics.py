"""Metrics computed over a whole epoch from accumulated sufficient statistics.

A metric is a small accumulator: ``reset()``, ``update(output, target)`` once per batch (NumPy arrays),
``compute()`` at the end. Statistics are summed, never batch averages averaged, so the value is the one
you would get on the whole epoch at once (what ``sklearn.metrics`` gives on the concatenated arrays).

Classification metrics take ``output`` as scores (logits or probabilities) of shape (N, C), predicted
class ``argmax``; or, for a binary model, scores of shape (N,) or (N, 1), predicted class
``score > threshold`` (default 0: a logit). ``target`` is class indices (N,) or one-hot / soft labels
(N, C), reduced by ``argmax``.

Pick them by object or by name: ``"accuracy"``, ``"top5"`` (any ``"topK"``), ``"precision"``,
``"recall"``, ``"f1"``, ``"confusion_matrix"``, ``"mse"``, ``"mae"``, ``"r2"``.
"""

from __future__ import annotations

import re

import numpy as np


def _array(x) -> np.ndarray:
    return np.asarray(getattr(x, "array", x))


class Metric:
    """Base class: an accumulator with a ``name`` (the key in logs and History).

    ``scalar`` is False for metrics whose value is an array (the confusion matrix); loggers skip those.
    """

    name = "metric"
    scalar = True

    def reset(self) -> None:
        raise NotImplementedError

    def update(self, output, target) -> None:
        raise NotImplementedError

    def compute(self):
        raise NotImplementedError

    def __call__(self, output, target):
        """The metric of one (output, target) pair on its own (resets the accumulator)."""
        self.reset()
        self.update(output, target)
        return self.compute()

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r})"


# --------------------------------------------------------------------------------------------------
# Classification


def _predicted_classes(output, threshold: float) -> np.ndarray:
    out = _array(output)
    if out.ndim == 2 and out.shape[1] > 1:
        return out.argmax(axis=1)
    if out.ndim == 1 or (out.ndim == 2 and out.shape[1] == 1):
        return (out.reshape(-1) > threshold).astype(np.int64)
    raise ValueError(f"classification metrics need scores of shape (N, C) or (N,), got {out.shape}; "
                     "flatten spatial outputs first")


def _target_classes(target, n: int) -> np.ndarray:
    t = _array(target)
    if t.ndim == 2 and t.shape[1] > 1:
        t = t.argmax(axis=1)
    t = t.reshape(-1)
    if t.shape[0] != n:
        raise ValueError(f"metric got {n} predictions but {t.shape[0]} targets; they must match")
    return t.astype(np.int64, copy=False)


class Accuracy(Metric):
    """accuracy = (1/N) Σᵢ [ŷᵢ = yᵢ], with ŷ = argmax of the scores."""

    name = "accuracy"

    def __init__(self, threshold: float = 0.0):
        self.threshold = float(threshold)
        self.reset()

    def reset(self):
        self.correct = 0
        self.count = 0

    def update(self, output, target):
        pred = _predicted_classes(output, self.threshold)
        true = _target_classes(target, pred.shape[0])
        self.correct += int(np.count_nonzero(pred == true))
        self.count += pred.shape[0]

    def compute(self):
        return self.correct / self.count if self.count else float("nan")


class TopKAccuracy(Metric):
    """top-k accuracy = (1/N) Σᵢ [yᵢ among the k highest scores of sample i]. Name ``top{k}``."""

    def __init__(self, k: int = 5):
        if not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"top-k accuracy needs an integer k >= 1, got {k!r}")
        self.k = int(k)
        self.name = f"top{self.k}"
        self.reset()

    def reset(self):
        self.correct = 0
        self.count = 0

    def update(self, output, target):
        out = _array(output)
        if out.ndim != 2:
            raise ValueError(f"top-k accuracy needs scores of shape (N, C), got {out.shape}")
        true = _target_classes(target, out.shape[0])
        if self.k >= out.shape[1]:
            hit = np.ones(out.shape[0], dtype=bool)
        else:
            # the true class is in the top k iff fewer than k classes score strictly higher
            true_score = out[np.arange(out.shape[0]), true]
            hit = (out > true_score[:, None]).sum(axis=1) < self.k
        self.correct += int(np.count_nonzero(hit))
        self.count += out.shape[0]

    def compute(self):
        return self.correct / self.count if self.count else float("nan")


def top_k_accuracy(k: int = 5) -> TopKAccuracy:
    """The top-k accuracy metric (``"top5"`` by name)."""
    return TopKAccuracy(k)


class ConfusionMatrix(Metric):
    """C[i, j] = number of samples of true class i predicted as class j (rows: truth, as sklearn).

    ``num_classes`` fixes the size; by default it grows to the largest class seen.
    """

    name = "confusion_matrix"
    scalar = False

    def __init__(self, num_classes: int | None = None, threshold: float = 0.0):
        if num_classes is not None and (not isinstance(num_classes, (int, np.integer)) or num_classes < 1):
            raise ValueError(f"num_classes must be a positive integer or None, got {num_classes!r}")
        self.num_classes = num_classes
        self.threshold = float(threshold)
        self.reset()

    def reset(self):
        self.matrix = np.zeros((self.num_classes or 0,) * 2, dtype=np.int64)

    def update(self, output, target):
        pred = _predicted_classes(output, self.threshold)
        true = _target_classes(target, pred.shape[0])
        if pred.size == 0:
            return
        k = max(int(pred.max()), int(true.max())) + 1
        if (pred.min() < 0) or (true.min() < 0):
            raise ValueError("class labels must be non-negative integers")
        if self.num_classes is not None and k > self.num_classes:
            raise ValueError(f"class {k - 1} seen but num_classes={self.num_classes}; raise num_classes")
        size = max(k, self.matrix.shape[0])
        counts = np.bincount(true * size + pred, minlength=size * size).reshape(size, size)
        if size > self.matrix.shape[0]:
            grown = np.zeros((size, size), dtype=np.int64)
            n = self.matrix.shape[0]
            grown[:n, :n] = self.matrix
            self.matrix = grown
        self.matrix += counts

    def compute(self):
        return self.matrix.copy()


class _MacroFromConfusion(Metric):
    """Shared by precision / recall / F1: per-class values from the confusion matrix, then the mean over
    the classes that occur in the targets or the predictions (sklearn's ``average='macro'``); a class
    whose denominator is 0 counts as 0 (sklearn's ``zero_division=0``)."""

    def __init__(self, num_classes: int | None = None, threshold: float = 0.0):
        self._cm = ConfusionMatrix(num_classes, threshold)

    def reset(self):
        self._cm.reset()

    def update(self, output, target):
        self._cm.update(output, target)

    def _parts(self):
        m = self._cm.matrix.astype(np.float64)
        tp = np.diag(m)
        predicted = m.sum(axis=0)
        actual = m.sum(axis=1)
        present = (predicted + actual) > 0
        return tp, predicted, actual, present

    @staticmethod
    def _safe_div(a, b):
        return np.divide(a, b, out=np.zeros_like(a), where=b > 0)

    def compute(self):
        tp, predicted, actual, present = self._parts()
        if not present.any():
            return float("nan")
        return float(self._per_class(tp, predicted, actual)[present].mean())


class Precision(_MacroFromConfusion):
    """macro precision = mean over classes c of TP_c / (TP_c + FP_c)."""

    name = "precision"

    def _per_class(self, tp, predicted, actual):
        return self._safe_div(tp, predicted)


class Recall(_MacroFromConfusion):
    """macro recall = mean over classes c of TP_c / (TP_c + FN_c)."""

    name = "recall"

    def _per_class(self, tp, predicted, actual):
        return self._safe_div(tp, actual)


class F1Score(_MacroFromConfusion):
    """macro F1 = mean over classes c of 2·TP_c / (2·TP_c + FP_c + FN_c) (the harmonic mean of P_c and R_c)."""

    name = "f1"

    def _per_class(self, tp, predicted, actual):
        return self._safe_div(2 * tp, predicted + actual)


# --------------------------------------------------------------------------------------------------
# Regression


def _regression_pair(output, target):
    out = _array(output).astype(np.float64)
    t = _array(target).astype(np.float64)
    if out.shape != t.shape:
        if out.size == t.size:
            t = t.reshape(out.shape)
        else:
            raise ValueError(f"regression metric: output shape {out.shape} and target shape {t.shape} differ")
    if out.ndim == 0:
        out, t = out.reshape(1), t.reshape(1)
    return out.reshape(out.shape[0], -1), t.reshape(t.shape[0], -1)


class MeanSquaredError(Metric):
    """MSE = (1/n) Σ (ŷ − y)² over every element."""

    name = "mse"

    def __init__(self):
        self.reset()

    def reset(self):
        self.total = 0.0
        self.count = 0

    def update(self, output, target):
        out, t = _regression_pair(output, target)
        self.total += float(np.sum((out - t) ** 2))
        self.count += out.size

    def compute(self):
        return self.total / self.count if self.count else float("nan")


class MeanAbsoluteError(MeanSquaredError):
    """MAE = (1/n) Σ |ŷ − y| over every element."""

    name = "mae"

    def update(self, output, target):
        out, t = _regression_pair(output, target)
        self.total += float(np.sum(np.abs(out - t)))
        self.count += out.size


class R2Score(Metric):
    """R² = 1 − SS_res / SS_tot per output column, SS_res = Σ (y − ŷ)², SS_tot = Σ (y − ȳ)²; averaged
    over columns (sklearn's ``multioutput='uniform_average'``).

    SS_tot is accumulated stably by merging per-batch means and squared deviations (Chan et al., 1979),
    in float64. A column with constant targets scores 1 if fit exactly, else 0 (as sklearn).
    """

    name = "r2"

    def __init__(self):
        self.reset()

    def reset(self):
        self.count = 0
        self.mean = None
        self.m2 = None
        self.ss_res = None

    def update(self, output, target):
        out, t = _regression_pair(output, target)
        n_b = t.shape[0]
        if n_b == 0:
            return
        mean_b = t.mean(axis=0)
        m2_b = ((t - mean_b) ** 2).sum(axis=0)
        res_b = ((t - out) ** 2).sum(axis=0)
        if self.count == 0:
            self.count, self.mean, self.m2, self.ss_res = n_b, mean_b, m2_b, res_b
            return
        if mean_b.shape != self.mean.shape:
            raise ValueError(f"R²: batch has {mean_b.shape[0]} outputs but earlier ones had {self.mean.shape[0]}")
        n = self.count + n_b
        delta = mean_b - self.mean
        self.m2 = self.m2 + m2_b + delta ** 2 * self.count * n_b / n
        self.mean = self.mean + delta * n_b / n
        self.ss_res = self.ss_res + res_b
        self.count = n

    def compute(self):
        if self.count == 0:
            return float("nan")
        with np.errstate(divide="ignore", invalid="ignore"):
            r2 = np.where(self.m2 > 0, 1 - self.ss_res / np.where(self.m2 > 0, self.m2, 1),
                          np.where(self.ss_res == 0, 1.0, 0.0))
        return float(r2.mean())


# --------------------------------------------------------------------------------------------------
# Lookup by name

_BY_NAME = {
    "accuracy": Accuracy, "acc": Accuracy,
    "precision": Precision, "recall": Recall, "f1": F1Score,
    "confusion_matrix": ConfusionMatrix,
    "mse": MeanSquaredError, "mae": MeanAbsoluteError, "r2": R2Score,
}


def get_metric(spec) -> Metric:
    """A metric from an object (returned as is) or a name (``"accuracy"``, ``"top5"``, ``"f1"``...)."""
    if isinstance(spec, Metric):
        return spec
    if isinstance(spec, type) and issubclass(spec, Metric):
        return spec()
    if isinstance(spec, str):
        key = spec.lower()
        match = re.fullmatch(r"top_?(\d+)(_accuracy)?", key)
        if match:
            return TopKAccuracy(int(match.group(1)))
        if key in _BY_NAME:
            return _BY_NAME[key]()
        raise ValueError(f"unknown metric {spec!r}; use one of {sorted(_BY_NAME)} or 'topK' (e.g. 'top5'), "
                         "or pass a descend.train.metrics.Metric object")
    raise TypeError(f"a metric must be a name or a Metric object, got {type(spec).__name__}")
