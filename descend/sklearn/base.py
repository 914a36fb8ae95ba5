"""The shared machinery of descend's scikit-learn estimators: parameters, the fit loop, persistence.

Fitting is ``descend.Trainer.fit`` on the validated arrays: the network is built from ``module`` (a
Module, deep-copied so the parameter is never changed, or a function ``(n_features, n_outputs) -> Module``)
or from a preset of :func:`descend.app.models.build_model`; the optimiser from ``optimizer`` (a name or a
descend optimiser class) with ``lr`` and ``weight_decay``. ``random_state`` seeds descend's generator
before the network is built (so it fixes the initial weights, dropout and shuffling).
"""

from __future__ import annotations

import copy

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from .. import nn, optim
from ..autograd import no_grad
from ..tensor import Tensor
from ..train import Callback, EarlyStopping, History, Trainer

OPTIMIZERS = {"adam": optim.Adam, "adamw": optim.AdamW, "sgd": optim.SGD, "rmsprop": optim.RMSprop,
              "adagrad": optim.Adagrad, "nadam": optim.NAdam, "lion": optim.Lion}
PRESETS = ("mlp", "cnn", "resnet")
PREDICT_BATCH = 128  # rows per forward; the last block is zero-padded to it (see _forward)
FORMAT = "descend.sklearn"


class _PrintEpochs(Callback):
    """``verbose > 0``: one line per epoch with its logs."""

    def on_epoch_end(self, epoch, logs=None):
        shown = ", ".join(f"{k}={v:.4g}" for k, v in (logs or {}).items() if isinstance(v, float))
        print(f"epoch {epoch + 1}: {shown}")


def _positive(value, name, kind=int):
    ok = isinstance(value, (int, np.integer)) if kind is int else isinstance(value, (int, float, np.number))
    if isinstance(value, bool) or not ok or value <= 0:
        raise ValueError(f"{name} must be a positive {'integer' if kind is int else 'number'}, got {value!r}")


class NeuralNetBase(BaseEstimator):
    """Base of :class:`NeuralNetClassifier` and :class:`NeuralNetRegressor` (see their docstrings)."""

    def __init__(self, module=None, preset="mlp", hidden=(64,), activation="relu", batchnorm=False, dropout=0.0,
                 input_shape=None, optimizer="adam", lr=1e-3, weight_decay=0.0, batch_size=32, max_epochs=20,
                 early_stopping=False, validation_fraction=0.1, patience=5, callbacks=None, random_state=None,
                 verbose=0):
        self.module = module
        self.preset = preset
        self.hidden = hidden
        self.activation = activation
        self.batchnorm = batchnorm
        self.dropout = dropout
        self.input_shape = input_shape
        self.optimizer = optimizer
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.callbacks = callbacks
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ subclass hooks
    def _encode_targets(self, y, first: bool, classes=None):  # pragma: no cover - abstract
        raise NotImplementedError

    def _loss(self):  # pragma: no cover - abstract
        raise NotImplementedError

    # ------------------------------------------------------------------ building
    def _check_params(self):
        _positive(self.lr, "lr", float)
        _positive(self.batch_size, "batch_size")
        _positive(self.max_epochs, "max_epochs")
        _positive(self.patience, "patience")
        if not 0.0 < self.validation_fraction < 1.0:
            raise ValueError(f"validation_fraction must be in (0, 1), got {self.validation_fraction!r}")
        if not (isinstance(self.optimizer, type) or callable(self.optimizer)) and self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)} or a descend optimiser class, got "
                             f"{self.optimizer!r}")
        if self.module is None and self.preset not in PRESETS:
            raise ValueError(f"preset must be one of {PRESETS} (or give module=), got {self.preset!r}")
        for cb in self.callbacks or ():
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be descend.train.Callback objects, got {type(cb).__name__}")

    def _shape(self, n_features):
        if self.input_shape is None:
            return (n_features,)
        shape = tuple(int(s) for s in self.input_shape)
        if int(np.prod(shape)) != n_features:
            raise ValueError(f"input_shape {shape} holds {int(np.prod(shape))} values but X has {n_features} "
                             "features; give a shape whose product is the feature count")
        return shape

    def _build_module(self, n_features, n_outputs):
        if isinstance(self.module, nn.Module):
            return copy.deepcopy(self.module)
        if self.module is not None:
            built = self.module(n_features, n_outputs)
            if not isinstance(built, nn.Module):
                raise TypeError(f"module(n_features, n_outputs) must return a descend.nn.Module, got "
                                f"{type(built).__name__}")
            return built
        from ..app.config import check_config
        from ..app.models import build_model
        cfg = check_config({"model": {"preset": self.preset, "hidden": [int(h) for h in self.hidden],
                                      "activation": self.activation, "batchnorm": bool(self.batchnorm),
                                      "dropout": float(self.dropout)}})["model"]
        return build_model(cfg, self._shape(n_features), n_outputs)

    def _build_optimizer(self, module):
        cls = OPTIMIZERS.get(self.optimizer, self.optimizer) if isinstance(self.optimizer, str) else self.optimizer
        return cls(module.parameters(), lr=self.lr, weight_decay=self.weight_decay)

    def _inputs(self, X):
        return np.ascontiguousarray(X.reshape((len(X),) + self._shape(X.shape[1])), dtype=np.float32)

    # ------------------------------------------------------------------ fitting
    def _initialise(self, X, y_enc, n_outputs):
        from .. import random as drandom
        rs = check_random_state(self.random_state)
        self.seed_ = int(rs.randint(2**31 - 1))
        drandom.manual_seed(self.seed_)
        self.n_outputs_ = int(n_outputs)
        self.module_ = self._build_module(X.shape[1], self.n_outputs_)
        self.optimizer_ = self._build_optimizer(self.module_)
        self.history_ = History()
        self.n_iter_ = 0

    def _train(self, X, y_enc, epochs, early_stopping):
        x = self._inputs(X)
        callbacks = copy.deepcopy(list(self.callbacks or ()))
        val = None
        if early_stopping and len(x) >= 2:
            order = np.random.default_rng(self.seed_ + self.n_iter_).permutation(len(x))
            n_val = min(max(1, int(round(self.validation_fraction * len(x)))), len(x) - 1)
            val = (x[order[:n_val]], y_enc[order[:n_val]])
            x, y_enc = x[order[n_val:]], y_enc[order[n_val:]]
            callbacks.append(EarlyStopping(monitor="val_loss", patience=int(self.patience)))
        if self.verbose:
            callbacks.append(_PrintEpochs())
        trainer = Trainer(self.module_, self._loss(), self.optimizer_, callbacks=callbacks,
                          seed=self.seed_ + self.n_iter_, batch_size=int(min(self.batch_size, len(x))))
        history = trainer.fit((x, y_enc), val, epochs=int(epochs))
        for row in history.to_rows():
            row = dict(row)
            row.pop("epoch", None)
            self.history_.append(self.n_iter_, row)
            self.n_iter_ += 1
        self.module_.eval()
        return self

    def fit(self, X, y):
        """Train a new network on (X, y) for up to ``max_epochs`` epochs (fewer with ``early_stopping``:
        ``validation_fraction`` of the data is held out and training stops after ``patience`` epochs without a
        lower ``val_loss``, keeping the best weights). Returns self."""
        self._check_params()
        X, y = validate_data(self, X, y, dtype=[np.float32, np.float64], y_numeric=not self._is_classifier(),
                             multi_output=not self._is_classifier())
        y_enc, n_outputs = self._encode_targets(y, first=True)
        self._initialise(X, y_enc, n_outputs)
        return self._train(X, y_enc, self.max_epochs, self.early_stopping)

    def _partial_fit(self, X, y, classes=None):
        first = not self.__sklearn_is_fitted__()
        if first:
            self._check_params()
        X, y = validate_data(self, X, y, dtype=[np.float32, np.float64], reset=first,
                             y_numeric=not self._is_classifier(),
                             multi_output=not self._is_classifier())
        y_enc, n_outputs = self._encode_targets(y, first=first, classes=classes)
        if first:
            self._initialise(X, y_enc, n_outputs)
        return self._train(X, y_enc, 1, False)

    def _is_classifier(self) -> bool:
        return False

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "module_")

    # ------------------------------------------------------------------ inference
    def _forward(self, X) -> np.ndarray:
        """The network's eval-mode outputs for X, in float64.

        Rows go through the network in blocks of exactly :data:`PREDICT_BATCH` (the last one zero-padded):
        float32 matrix products can round a row differently for different batch sizes, and a fixed block
        makes a row's prediction independent of the rows predicted with it (sklearn's subset invariance)."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float32, np.float64], reset=False)
        x = self._inputs(X)
        n = len(x)
        if n == 0:
            return np.zeros((0, self.n_outputs_))
        padded = np.zeros((-(-n // PREDICT_BATCH) * PREDICT_BATCH,) + x.shape[1:], dtype=np.float32)
        padded[:n] = x
        self.module_.eval()
        outs = []
        with no_grad():
            for i in range(0, len(padded), PREDICT_BATCH):
                outs.append(np.asarray(self.module_(Tensor.from_array(padded[i:i + PREDICT_BATCH])).array))
        return np.concatenate(outs)[:n].astype(np.float64)

    # ------------------------------------------------------------------ persistence
    def _plain_params(self) -> dict:
        keep = {}
        for k, v in self.get_params(deep=False).items():
            if k in ("module", "callbacks") or (k == "optimizer" and not isinstance(v, str)):
                continue
            keep[k] = list(v) if isinstance(v, tuple) else v
        return keep

    def save(self, path):
        """Write the fitted estimator to ``path`` with :func:`descend.save` (safetensors + JSON, no pickle):
        the plain parameters, the network's and optimiser's state dicts, the history and the fitted attributes.
        ``module`` (a Module or function), ``callbacks`` and an optimiser class are not stored: pass them to
        :meth:`load` again. Returns the path."""
        from ..io import save
        check_is_fitted(self)
        fitted = {"n_features_in_": int(self.n_features_in_), "n_outputs_": int(self.n_outputs_),
                  "seed_": int(self.seed_), "n_iter_": int(self.n_iter_)}
        if hasattr(self, "feature_names_in_"):
            fitted["feature_names_in_"] = [str(n) for n in self.feature_names_in_]
        fitted.update(self._fitted_extra())
        state = {"format": FORMAT, "estimator": type(self).__name__, "params": self._plain_params(),
                 "fitted": fitted, "model": self.module_.state_dict(), "optimizer": self.optimizer_.state_dict(),
                 "history": self.history_.state_dict()}
        return save(state, path)

    def _fitted_extra(self) -> dict:
        return {}

    def _restore_extra(self, fitted: dict) -> None:
        pass

    @classmethod
    def load(cls, path, **params):
        """An estimator saved by :meth:`save`, ready to predict (and to continue with ``partial_fit``);
        ``params`` give what was not stored (``module=``, ``callbacks=``, an optimiser class) or override."""
        from ..io import load
        state = load(path)
        if not isinstance(state, dict) or state.get("format") != FORMAT or state.get("estimator") != cls.__name__:
            raise ValueError(f"{str(path)!r} is not a saved {cls.__name__} (written by {cls.__name__}.save)")
        stored = {k: tuple(v) if isinstance(v, list) else v for k, v in state["params"].items()}
        est = cls(**{**stored, **params})
        fitted = state["fitted"]
        est.n_features_in_ = fitted["n_features_in_"]
        if "feature_names_in_" in fitted:
            est.feature_names_in_ = np.asarray(fitted["feature_names_in_"], dtype=object)
        est.n_outputs_, est.seed_, est.n_iter_ = fitted["n_outputs_"], fitted["seed_"], fitted["n_iter_"]
        est._restore_extra(fitted)
        est.module_ = est._build_module(est.n_features_in_, est.n_outputs_)
        est.module_.load_state_dict(state["model"])
        est.module_.eval()
        est.optimizer_ = est._build_optimizer(est.module_)
        est.optimizer_.load_state_dict(state["optimizer"])
        est.history_ = History()
        est.history_.load_state_dict(state["history"])
        return est
