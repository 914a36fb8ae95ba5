"""EarlyStopping: stops after `patience` epochs without improvement and restores the best epoch's weights."""

import numpy as np
import pytest

from descend.nn.linear import Linear
from descend.nn.loss import MSELoss
from descend.optim import SGD
from descend.train import Callback, EarlyStopping, Trainer


class Script(Callback):
    """Writes a scripted 'score' into the epoch logs and snapshots the weights of every epoch."""

    def __init__(self, scores):
        self.scores, self.weights = scores, []

    def on_epoch_end(self, epoch, logs=None):
        logs["score"] = self.scores[epoch]
        self.weights.append(self.trainer.model.state_dict())


def run(scores, epochs, **kwargs):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((32, 3)).astype(np.float32), rng.standard_normal((32, 1)).astype(np.float32)
    script, stopper = Script(scores), EarlyStopping(monitor="score", **kwargs)
    trainer = Trainer(lambda: Linear(3, 1), MSELoss(), lambda p: SGD(p, lr=0.05), callbacks=[script, stopper],
                      seed=0)
    history = trainer.fit((x, y), epochs=epochs)
    return trainer, script, stopper, history


def assert_weights(model, expected):
    got = model.state_dict()
    for k in expected:
        np.testing.assert_array_equal(got[k], expected[k])


def test_stops_after_patience_epochs_without_improvement_and_restores_best_weights():
    scores = [5.0, 3.0, 2.0, 2.5, 2.1, 2.05, 1.0, 0.5]
    trainer, script, stopper, history = run(scores, epochs=8, mode="min", patience=3)
    assert history.epochs == [0, 1, 2, 3, 4, 5]  # best at 2; 3, 4, 5 do not improve → stop after 5
    assert stopper.stopped_epoch == 5 and history.stopped_epoch == 5
    assert (stopper.best, stopper.best_epoch) == (2.0, 2)
    assert_weights(trainer.model, script.weights[2])
    assert not np.array_equal(trainer.model.weight.array, script.weights[5]["weight"])


def test_max_mode_and_min_delta():
    scores = [0.5, 0.6, 0.605, 0.609, 0.7]
    _, _, stopper, history = run(scores, epochs=5, mode="max", patience=2, min_delta=0.01)
    assert stopper.best_epoch == 1 and history.epochs == [0, 1, 2, 3]  # +0.005 and +0.009 are below min_delta


def test_restores_the_best_weights_when_the_epochs_run_out_too():
    scores = [3.0, 1.0, 2.0, 2.5]
    trainer, script, stopper, history = run(scores, epochs=4, mode="min", patience=10)
    assert stopper.stopped_epoch is None and history.stopped_epoch is None and len(history) == 4
    assert_weights(trainer.model, script.weights[1])


def test_restore_best_weights_false_keeps_the_last_weights():
    trainer, script, _, _ = run([3.0, 1.0, 2.0], epochs=3, mode="min", patience=10, restore_best_weights=False)
    assert_weights(trainer.model, script.weights[2])


def test_missing_monitor_lists_the_available_logs_and_mode_is_explicit():
    with pytest.raises(ValueError, match="'min'.*'max'"):
        EarlyStopping(mode="auto")
    with pytest.raises(ValueError, match="patience"):
        EarlyStopping(patience=-1)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((8, 3)).astype(np.float32), rng.standard_normal((8, 1)).astype(np.float32)
    trainer = Trainer(lambda: Linear(3, 1), MSELoss(), lambda p: SGD(p, lr=0.05), callbacks=[EarlyStopping()])
    with pytest.raises(KeyError, match=r"val_loss.*available: \['loss', 'lr', 'time'\].*validation data"):
        trainer.fit((x, y), epochs=1)
