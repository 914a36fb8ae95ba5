"""``NeuralNetClassifier`` and ``NeuralNetRegressor``: descend networks as scikit-learn estimators."""

from __future__ import annotations

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets, unique_labels
from sklearn.utils.validation import column_or_1d

from .. import nn
from .base import NeuralNetBase

_PARAMS_DOC = """
    Parameters (all keyword, all in ``get_params``/``set_params``, so ``clone`` and ``GridSearchCV`` work):

    * ``module``: a ``descend.nn.Module`` (deep-copied at each ``fit``) or a function
      ``(n_features, n_outputs) -> Module``; None (default) builds ``preset``.
    * ``preset`` (``'mlp'``, ``'cnn'``, ``'resnet'``), ``hidden`` (widths or channel counts), ``activation``,
      ``batchnorm``, ``dropout``: the preset of :func:`descend.app.models.build_model`; ``input_shape``: reshape
      each row to this shape (e.g. ``(1, 8, 8)`` for a CNN on digits).
    * ``optimizer`` (``'adam'``, ``'adamw'``, ``'sgd'``, ``'rmsprop'``, ``'adagrad'``, ``'nadam'``, ``'lion'``
      or a descend optimiser class), ``lr``, ``weight_decay``, ``batch_size``, ``max_epochs``.
    * ``early_stopping``, ``validation_fraction``, ``patience``: hold out a fraction, stop after ``patience``
      epochs without a lower ``val_loss`` and keep the best weights.
    * ``callbacks``: descend Trainer callbacks (deep-copied at each fit); ``random_state``: seeds the weights,
      dropout and shuffling; ``verbose``: print one line per epoch when > 0.

    Fitted attributes: ``module_`` (the network, eval mode), ``optimizer_``, ``history_`` (a
    :class:`descend.History`, one row per epoch, continued by ``partial_fit``), ``n_iter_`` (epochs run),
    ``n_features_in_``, ``feature_names_in_`` (for DataFrames), ``n_outputs_``.
"""


class NeuralNetClassifier(ClassifierMixin, NeuralNetBase):
    """A descend network trained with cross-entropy: p(k | x) = softmax(f(x))ₖ; ``predict`` is
    ``classes_[argmax_k f(x)ₖ]``, ``score`` the accuracy. ``classes_`` holds the sorted labels.
    """ + _PARAMS_DOC

    def _is_classifier(self) -> bool:
        return True

    def _loss(self):
        return nn.CrossEntropyLoss()

    def _encode_targets(self, y, first, classes=None):
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if first:
            self.classes_ = unique_labels(y) if classes is None else unique_labels(np.asarray(classes))
        unseen = np.setdiff1d(np.unique(y), self.classes_)
        if unseen.size:
            raise ValueError(f"y holds labels {unseen.tolist()} not in classes_ {self.classes_.tolist()}; pass "
                             "every label in classes= at the first partial_fit")
        return np.searchsorted(self.classes_, y).astype(np.int64), len(self.classes_)

    def partial_fit(self, X, y, classes=None):
        """One more epoch on (X, y) (the first call builds the network; ``classes`` lists every label that
        later calls may hold, default the labels in this y). Returns self."""
        return self._partial_fit(X, y, classes)

    def predict_proba(self, X) -> np.ndarray:
        """softmax(f(x)) per row, shape (n_samples, n_classes), float64; columns in ``classes_`` order."""
        z = self._forward(X)
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, X) -> np.ndarray:
        """The most probable class of each row (a label from ``classes_``)."""
        z = self._forward(X)
        return self.classes_[np.argmax(z, axis=1)]

    def _fitted_extra(self) -> dict:
        return {"classes_": self.classes_.tolist()}

    def _restore_extra(self, fitted: dict) -> None:
        self.classes_ = np.asarray(fitted["classes_"])


class NeuralNetRegressor(RegressorMixin, NeuralNetBase):
    """A descend network trained with mean squared error; ``predict`` is f(x) (1-D for a 1-D y, else
    (n_samples, n_targets)), float64; ``score`` is R². Multi-output y is supported.
    """ + _PARAMS_DOC

    def _loss(self):
        return nn.MSELoss()

    def _encode_targets(self, y, first, classes=None):
        y = np.asarray(y, dtype=np.float32)
        if first:
            self._y_1d = y.ndim == 1
        y2 = y.reshape(len(y), -1)
        if not first and y2.shape[1] != self.n_outputs_:
            raise ValueError(f"y has {y2.shape[1]} targets but the estimator was fitted with {self.n_outputs_}")
        return np.ascontiguousarray(y2), y2.shape[1]

    def partial_fit(self, X, y):
        """One more epoch on (X, y) (the first call builds the network). Returns self."""
        return self._partial_fit(X, y)

    def predict(self, X) -> np.ndarray:
        """f(x) per row, float64: shape (n_samples,) when fitted on a 1-D y, else (n_samples, n_targets)."""
        out = self._forward(X)
        return out.ravel() if self._y_1d else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _fitted_extra(self) -> dict:
        return {"y_1d": bool(self._y_1d)}

    def _restore_extra(self, fitted: dict) -> None:
        self._y_1d = bool(fitted["y_1d"])
