"""Exact resume: a run stopped after epoch k (or interrupted mid-epoch) and resumed ends bit-equal to the
uninterrupted run, with dropout, shuffling, augmentation, Adam, a scheduler and early-stopping state."""

import os

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from descend.nn.linear import Linear
from descend.nn.loss import CrossEntropyLoss
from descend.nn.module import Module
from descend.ops.dropout import dropout
from descend.optim import Adam
from descend.train import Callback, EarlyStopping, Trainer


@pytest.fixture(autouse=True, scope="module")
def one_blas_thread():
    with threadpool_limits(1):
        yield


class Net(Module):
    def __init__(self):
        super().__init__()
        self.fc1 = Linear(6, 16)
        self.fc2 = Linear(16, 3)

    def forward(self, x):
        return self.fc2(dropout(self.fc1(x).relu(), 0.2, self.training))


class Decay:
    """A scheduler with state: lr ← lr · 0.9 per step."""

    def __init__(self, optimizer):
        self.optimizer, self.last_epoch = optimizer, 0

    def step(self):
        self.last_epoch += 1
        for g in self.optimizer.param_groups:
            g["lr"] *= 0.9

    def state_dict(self):
        return {"last_epoch": self.last_epoch}

    def load_state_dict(self, state):
        self.last_epoch = state["last_epoch"]


def noise(x, generator):
    return x + generator.normal(0, 0.1, x.shape).astype(np.float32)


def data():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((150, 6)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 1)
    return (x[:120], y[:120]), (x[120:], y[120:])


def make(callbacks=()):
    return Trainer(Net, CrossEntropyLoss(), lambda p: Adam(p, lr=0.01), scheduler=Decay, metrics=["accuracy"],
                   callbacks=[EarlyStopping(patience=50), *callbacks], seed=11, batch_size=16, augmentation=noise)


def strip(history):
    return {k: v for k, v in history.history.items() if k != "time"}


def assert_same_weights(a, b):
    wa, wb = a.model.state_dict(), b.model.state_dict()
    assert list(wa) == list(wb)
    for k in wa:
        np.testing.assert_array_equal(wa[k], wb[k])


def test_stop_after_epoch_k_and_resume_is_bit_identical(tmp_path):
    train, val = data()
    full = make()
    full_history = full.fit(train, val, epochs=6)

    first = make()
    first.fit(train, val, epochs=3, checkpoint_dir=tmp_path)
    assert os.path.exists(tmp_path / "last.safetensors")
    resumed = make()  # a fresh process would rebuild everything the same way
    history = resumed.fit(train, val, epochs=6, resume_from=tmp_path / "last.safetensors")

    assert history.epochs == list(range(6))
    assert strip(history) == strip(full_history)
    assert_same_weights(resumed, full)
    es_full, es_resumed = full.callbacks[0], resumed.callbacks[0]
    assert (es_resumed.best, es_resumed.best_epoch) == (es_full.best, es_full.best_epoch)
    assert resumed.scheduler.last_epoch == 6
    for k, v in full.optimizer.state_dict()["state"].items():
        for name, value in v.items():
            np.testing.assert_array_equal(value, resumed.optimizer.state_dict()["state"][k][name])


class InterruptAt(Callback):
    def __init__(self, epoch, batch):
        self.at = (epoch, batch)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            raise KeyboardInterrupt


class Nothing(Callback):
    pass


def test_keyboard_interrupt_keeps_last_completed_epoch_and_resume_matches(tmp_path):
    train, val = data()
    full = make([Nothing()])
    full.fit(train, val, epochs=5)

    interrupted = make([InterruptAt(3, 2)])
    history = interrupted.fit(train, val, epochs=5, checkpoint_dir=tmp_path)
    assert history.interrupted
    assert history.epochs == [0, 1, 2]  # epoch 3 was cut short: not recorded, not checkpointed
    resumed = make([Nothing()])  # same callback classes in the same order
    history = resumed.fit(train, val, epochs=5, resume_from=tmp_path)  # the directory works too
    assert not history.interrupted and history.epochs == list(range(5))
    assert_same_weights(resumed, full)


def test_resume_refuses_a_mismatched_configuration_and_missing_files(tmp_path):
    train, val = data()
    make().fit(train, val, epochs=1, checkpoint_dir=tmp_path)
    other = Trainer(Net, CrossEntropyLoss(), lambda p: Adam(p, lr=0.01), seed=11)
    with pytest.raises(ValueError, match="callbacks"):
        other.fit(train, val, epochs=2, resume_from=tmp_path)
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        make().fit(train, val, epochs=2, resume_from=tmp_path / "nope.safetensors")


def test_resuming_a_run_that_stopped_early_trains_no_more_and_restores_best(tmp_path):
    train, val = data()

    def stopper():
        return Trainer(Net, CrossEntropyLoss(), lambda p: Adam(p, lr=0.05), seed=2,
                       callbacks=[EarlyStopping(monitor="loss", mode="max", patience=1)])
    first = stopper()
    history = first.fit(train, val, epochs=10, checkpoint_dir=tmp_path)
    assert history.stopped_epoch == 1  # the loss falls, so 'max' sees no improvement after epoch 0
    again = stopper()
    resumed = again.fit(train, val, epochs=10, resume_from=tmp_path)
    assert resumed.epochs == [0, 1]
    assert_same_weights(again, first)
