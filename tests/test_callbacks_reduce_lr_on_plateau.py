"""ReduceLROnPlateau callback and scheduler wiring: the learning rate drops after a plateau of the monitor."""

import numpy as np
import pytest

from descend.nn.linear import Linear
from descend.nn.loss import MSELoss
from descend.optim import SGD
from descend.optim.lr_scheduler import ReduceLROnPlateau as PlateauScheduler
from descend.train import Callback, ReduceLROnPlateau, Trainer


class Script(Callback):
    def __init__(self, scores):
        self.scores = scores

    def on_epoch_end(self, epoch, logs=None):
        logs["score"] = self.scores[epoch]


def data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((16, 2)).astype(np.float32), rng.standard_normal((16, 1)).astype(np.float32)


def test_callback_halves_the_lr_after_patience_epochs_without_improvement():
    scores = [1.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    plateau = ReduceLROnPlateau(monitor="score", mode="min", factor=0.5, patience=2)
    trainer = Trainer(lambda: Linear(2, 1), MSELoss(), lambda p: SGD(p, lr=0.1),
                      callbacks=[Script(scores), plateau])
    history = trainer.fit(data(), epochs=7)
    # epochs 2, 3 bad (patience 2); epoch 4 is the third → lr halves, effective from epoch 5
    assert history.lr == pytest.approx([0.1, 0.1, 0.1, 0.1, 0.1, 0.05, 0.05])
    assert isinstance(plateau.scheduler, PlateauScheduler)


def test_trainer_steps_a_plateau_scheduler_with_the_monitored_validation_value():
    x, y = data()
    seen = []
    trainer = Trainer(lambda: Linear(2, 1), MSELoss(), lambda p: SGD(p, lr=0.01),
                      scheduler=lambda opt: PlateauScheduler(opt, mode="max", factor=0.1, patience=0))
    trainer.scheduler.step = lambda value: seen.append(value)
    history = trainer.fit((x, y), (x, y), epochs=2)
    assert seen == history.val_loss
    no_val = Trainer(lambda: Linear(2, 1), MSELoss(), lambda p: SGD(p, lr=0.01),
                     scheduler=lambda opt: PlateauScheduler(opt))
    with pytest.raises(KeyError, match="val_loss.*available"):
        no_val.fit((x, y), epochs=1)
    with pytest.raises(ValueError, match="scheduler_interval='epoch'"):
        Trainer(lambda: Linear(2, 1), MSELoss(), lambda p: SGD(p, lr=0.01),
                scheduler=lambda opt: PlateauScheduler(opt), scheduler_interval="batch")
