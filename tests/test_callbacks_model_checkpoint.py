"""ModelCheckpoint: the best file holds the best epoch's weights, the last file the last epoch's."""

import os

import numpy as np

import descend
from descend.nn.linear import Linear
from descend.nn.loss import MSELoss
from descend.optim import SGD
from descend.train import Callback, ModelCheckpoint, Trainer


class Script(Callback):
    def __init__(self, scores):
        self.scores, self.weights = scores, []

    def on_epoch_end(self, epoch, logs=None):
        logs["score"] = self.scores[epoch]
        self.weights.append(self.trainer.model.state_dict())


def test_best_and_last_files_hold_the_right_epochs_weights_and_no_temp_files_remain(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((32, 3)).astype(np.float32), rng.standard_normal((32, 1)).astype(np.float32)
    script = Script([0.3, 0.9, 0.5, 0.8])
    checkpoint = ModelCheckpoint(tmp_path / "best.safetensors", monitor="score", mode="max",
                                 save_last=tmp_path / "last.safetensors")
    trainer = Trainer(lambda: Linear(3, 1), MSELoss(), lambda p: SGD(p, lr=0.05), callbacks=[script, checkpoint],
                      seed=0)
    trainer.fit((x, y), epochs=4)
    best, last = descend.io.load(tmp_path / "best.safetensors"), descend.io.load(tmp_path / "last.safetensors")
    for k in best:
        np.testing.assert_array_equal(best[k], script.weights[1][k])
        np.testing.assert_array_equal(last[k], script.weights[3][k])
    assert checkpoint.best_epoch == 1 and checkpoint.best == 0.9
    assert sorted(os.listdir(tmp_path)) == ["best.safetensors", "last.safetensors"]
    # the file loads back into a model
    fresh = Linear(3, 1)
    fresh.load_state_dict(best)
    np.testing.assert_array_equal(fresh.weight.array, script.weights[1]["weight"])


def test_save_best_only_false_writes_every_epoch(tmp_path):
    x, y = np.ones((4, 3), np.float32), np.ones((4, 1), np.float32)
    checkpoint = ModelCheckpoint(tmp_path / "w.safetensors", save_best_only=False)
    trainer = Trainer(lambda: Linear(3, 1), MSELoss(), lambda p: SGD(p, lr=0.05), callbacks=[checkpoint])
    trainer.fit((x, y), epochs=2)  # no validation data: monitor is not needed without save_best_only
    np.testing.assert_array_equal(descend.io.load(tmp_path / "w.safetensors")["weight"], trainer.model.weight.array)
