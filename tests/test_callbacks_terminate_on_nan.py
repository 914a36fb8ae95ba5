"""TerminateOnNaN stops at the first non-finite batch loss."""

import numpy as np

from descend.nn.linear import Linear
from descend.nn.loss import MSELoss
from descend.optim import SGD
from descend.train import Callback, TerminateOnNaN, Trainer


class CountBatches(Callback):
    def __init__(self):
        self.count = 0

    def on_train_batch_end(self, batch, logs=None):
        self.count += 1


def test_stops_right_after_the_first_nan_batch(tmp_path):
    x = np.ones((50, 2), np.float32)
    y = np.ones((50, 1), np.float32)
    x[25] = np.nan  # batch 2 (of size 10) contains a NaN → its loss is NaN
    counter, stop = CountBatches(), TerminateOnNaN()
    trainer = Trainer(lambda: Linear(2, 1), MSELoss(), lambda p: SGD(p, lr=0.01), callbacks=[stop, counter],
                      batch_size=10, shuffle=False)
    history = trainer.fit((x, y), epochs=5, checkpoint_dir=tmp_path)
    assert stop.terminated_at == (0, 2)
    assert counter.count == 3 and history.epochs == [0] and np.isnan(history.loss[0])
    assert not (tmp_path / "last.safetensors").exists()  # a cut-short epoch is never checkpointed


def test_finite_losses_do_not_stop_training():
    x, y = np.ones((20, 2), np.float32), np.ones((20, 1), np.float32)
    stop = TerminateOnNaN()
    history = Trainer(lambda: Linear(2, 1), MSELoss(), lambda p: SGD(p, lr=0.01), callbacks=[stop]).fit(
        (x, y), epochs=3)
    assert stop.terminated_at is None and len(history) == 3
