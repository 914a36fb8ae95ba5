"""descend's scikit-learn estimators: sklearn's own estimator checks, a Pipeline + GridSearchCV on digits
reaching >= 0.95 held-out accuracy, regression R², clone / pickle / check_is_fitted, partial_fit and
pickle-free save/load."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits, make_regression
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks
from sklearn.utils.validation import check_is_fitted

from descend import nn
from descend.sklearn import NeuralNetClassifier, NeuralNetRegressor
from descend.train import Callback

#: sklearn checks expected to fail, with the reason (the one place they are listed; see docs/export.md).
EXPECTED_FAILED_CHECKS: dict = {}

CHECK_INSTANCES = [NeuralNetClassifier(hidden=(16,), lr=0.02, max_epochs=15, batch_size=16, random_state=0),
                   NeuralNetRegressor(hidden=(32,), lr=0.02, max_epochs=30, batch_size=16, random_state=0)]


@parametrize_with_checks(CHECK_INSTANCES, expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS.get(
    type(est).__name__, {}))
def test_sklearn_estimator_checks_pass(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def digits_split():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)


def test_pipeline_grid_search_on_digits_reaches_95_percent_held_out(digits_split):
    X_train, X_test, y_train, y_test = digits_split
    pipe = Pipeline([("scale", StandardScaler()),
                     ("clf", NeuralNetClassifier(max_epochs=15, batch_size=32, random_state=0))])
    grid = GridSearchCV(pipe, {"clf__hidden": [(32,), (64,)], "clf__lr": [3e-3, 1e-2]}, cv=3)
    grid.fit(X_train, y_train)
    accuracy = grid.score(X_test, y_test)
    assert accuracy >= 0.95, accuracy
    assert set(grid.best_params_) == {"clf__hidden", "clf__lr"}
    proba = grid.predict_proba(X_test)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(grid.best_estimator_.classes_[proba.argmax(1)], grid.predict(X_test))


def test_cnn_preset_on_digits_images_reaches_95_percent(digits_split):
    X_train, X_test, y_train, y_test = digits_split
    clf = NeuralNetClassifier(preset="cnn", hidden=(8, 16), input_shape=(1, 8, 8), lr=3e-3, max_epochs=8,
                              random_state=0).fit(X_train / 16, y_train)
    assert clf.score(X_test / 16, y_test) >= 0.95


def test_regressor_reaches_r2_098_on_a_generated_problem():
    X, y = make_regression(n_samples=600, n_features=8, noise=5.0, random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    scale = y_train.std()
    reg = Pipeline([("scale", StandardScaler()),
                    ("reg", NeuralNetRegressor(hidden=(64,), lr=1e-2, max_epochs=60, random_state=0))])
    reg.fit(X_train, y_train / scale)
    r2 = reg.score(X_test, y_test / scale)
    assert r2 >= 0.98, r2
    pred = reg.predict(X_test)
    assert pred.shape == (len(X_test),) and pred.dtype == np.float64


def test_multioutput_regression_predicts_every_target():
    X, y = make_regression(n_samples=300, n_features=5, n_targets=3, noise=1.0, random_state=1)
    reg = NeuralNetRegressor(hidden=(32,), lr=1e-2, max_epochs=60, random_state=0).fit(X, y / y.std(0))
    assert reg.predict(X).shape == (300, 3)
    assert reg.score(X, y / y.std(0)) > 0.95


def test_clone_copies_params_but_not_the_fit(digits_split):
    X_train, _, y_train, _ = digits_split
    module = nn.Sequential(nn.Linear(64, 10))
    clf = NeuralNetClassifier(module=module, max_epochs=2, random_state=3).fit(X_train / 16, y_train)
    twin = clone(clf)
    assert twin.get_params()["max_epochs"] == 2 and twin.get_params()["random_state"] == 3
    with pytest.raises(NotFittedError):
        check_is_fitted(twin)
    check_is_fitted(clf)
    # the module parameter is never trained in place: fit trains a deep copy
    assert clf.module_ is not module
    assert not np.allclose(clf.module_[0].weight.array, module[0].weight.array)
    np.testing.assert_array_equal(twin.fit(X_train / 16, y_train).predict(X_train / 16), clf.predict(X_train / 16))


def test_pickle_round_trip_predicts_the_same(digits_split):
    X_train, X_test, y_train, _ = digits_split
    clf = NeuralNetClassifier(max_epochs=3, random_state=0).fit(X_train / 16, y_train)
    back = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(back.predict_proba(X_test / 16), clf.predict_proba(X_test / 16))
    assert len(back.history_) == 3


def test_save_and_load_without_pickle_predict_the_same(tmp_path, digits_split):
    X_train, X_test, y_train, _ = digits_split
    labels = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])
    clf = NeuralNetClassifier(hidden=(24,), max_epochs=3, random_state=0).fit(X_train / 16, labels[y_train])
    path = clf.save(tmp_path / "clf.safetensors")
    back = NeuralNetClassifier.load(path)
    assert back.get_params() == clf.get_params()
    np.testing.assert_array_equal(back.predict(X_test / 16), clf.predict(X_test / 16))
    np.testing.assert_allclose(back.predict_proba(X_test / 16), clf.predict_proba(X_test / 16))
    # training continues from the saved optimiser state exactly as the original would
    clf.partial_fit(X_train / 16, labels[y_train])
    back.partial_fit(X_train / 16, labels[y_train])
    np.testing.assert_allclose(back.predict_proba(X_test / 16), clf.predict_proba(X_test / 16), atol=1e-6)
    with pytest.raises(ValueError, match="is not a saved NeuralNetRegressor"):
        NeuralNetRegressor.load(path)


def test_save_and_load_with_a_custom_module_needs_it_again(tmp_path):
    X, y = make_regression(n_samples=100, n_features=4, random_state=0)
    reg = NeuralNetRegressor(module=nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1)), max_epochs=2,
                             random_state=0).fit(X, y / y.std())
    reg.save(tmp_path / "r.safetensors")
    back = NeuralNetRegressor.load(tmp_path / "r.safetensors",
                                   module=nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1)))
    np.testing.assert_allclose(back.predict(X), reg.predict(X))


def test_partial_fit_adds_one_epoch_per_call_and_keeps_classes():
    X, y = load_digits(return_X_y=True)
    clf = NeuralNetClassifier(hidden=(32,), lr=1e-2, random_state=0)
    clf.partial_fit(X[:300] / 16, y[:300], classes=np.arange(10))
    first = clf.score(X / 16, y)
    for _ in range(9):
        clf.partial_fit(X / 16, y)
    assert clf.n_iter_ == 10 and len(clf.history_) == 10
    assert clf.score(X / 16, y) > max(first, 0.9)
    with pytest.raises(ValueError, match="not in classes_"):
        clf.partial_fit(X[:5] / 16, np.full(5, 11))


def test_early_stopping_stops_before_max_epochs_and_callbacks_run():
    class Count(Callback):
        ran = 0

        def __init__(self):
            self.seen = []

        def on_epoch_end(self, epoch, logs=None):
            Count.ran += 1
            self.seen.append(epoch)

    X, y = make_regression(n_samples=200, n_features=4, noise=20.0, random_state=0)
    given = Count()
    reg = NeuralNetRegressor(hidden=(64,), lr=3e-2, max_epochs=300, early_stopping=True, patience=3,
                             callbacks=[given], random_state=0).fit(X, y / y.std())
    assert reg.n_iter_ < 300 and "val_loss" in reg.history_ and len(reg.history_) == reg.n_iter_
    assert Count.ran == reg.n_iter_
    assert given.seen == []  # the parameter's callback is deep-copied; the copy ran


def test_feature_names_in_from_a_dataframe():
    pd = pytest.importorskip("pandas")
    X, y = make_regression(n_samples=50, n_features=3, random_state=0)
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    reg = NeuralNetRegressor(max_epochs=1, random_state=0).fit(df, y)
    assert list(reg.feature_names_in_) == ["a", "b", "c"] and reg.n_features_in_ == 3


@pytest.mark.parametrize("params, message", [({"lr": -1.0}, "lr must be a positive number"),
                                             ({"preset": "vgg"}, "preset must be one of"),
                                             ({"optimizer": "adamm"}, "optimizer must be one of"),
                                             ({"validation_fraction": 1.5}, "validation_fraction must be in"),
                                             ({"input_shape": (3, 3)}, "input_shape")])
def test_bad_params_raise_at_fit_naming_the_value(params, message):
    X, y = make_regression(n_samples=20, n_features=4, random_state=0)
    with pytest.raises(ValueError, match=message):
        NeuralNetRegressor(**params).fit(X, y)
