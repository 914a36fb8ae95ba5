"""Trainer: real learning outcomes on digits and a known function, the loop's options, evaluate/predict."""

import numpy as np
import pytest
from threadpoolctl import threadpool_limits
from sklearn.datasets import load_digits
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split

import descend
from descend.data.loader import DataLoader
from descend.nn.conv import Conv2d
from descend.nn.linear import Linear
from descend.nn.loss import CrossEntropyLoss, MSELoss
from descend.nn.module import Module
from descend.nn.pooling import MaxPool2d
from descend.ops.dropout import dropout
from descend.optim import SGD, Adam
from descend.train import Callback, History, Trainer


class MLP(Module):
    def __init__(self, sizes, p_drop=0.0):
        super().__init__()
        self.layers = [Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:])]
        for i, layer in enumerate(self.layers):
            setattr(self, f"fc{i}", layer)
        self.p_drop = p_drop

    def forward(self, x):
        for layer in self.layers[:-1]:
            x = layer(x).relu()
            if self.p_drop:
                x = dropout(x, self.p_drop, self.training)
        return self.layers[-1](x)


class SmallCNN(Module):
    def __init__(self):
        super().__init__()
        self.conv1 = Conv2d(1, 16, 3, padding=1)
        self.pool = MaxPool2d(2)
        self.conv2 = Conv2d(16, 32, 3, padding=1)
        self.fc = Linear(32 * 2 * 2, 10)

    def forward(self, x):
        x = self.pool(self.conv1(x).relu())
        x = self.pool(self.conv2(x).relu())
        return self.fc(x.reshape(x.shape[0], -1))


@pytest.fixture(autouse=True, scope="module")
def one_blas_thread():
    # small matrices: one BLAS thread is fastest, and spinning BLAS threads crawl on a busy 2-core machine
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def digits():
    d = load_digits()
    x = (d.data / 16.0).astype(np.float32)
    return train_test_split(x, d.target, test_size=0.25, random_state=0, stratify=d.target)


def test_mlp_learns_digits_to_95_percent_test_accuracy(digits):
    x_tr, x_te, y_tr, y_te = digits
    descend.manual_seed(0)
    model = MLP([64, 128, 10])
    trainer = Trainer(model, CrossEntropyLoss(), Adam(model.parameters(), lr=3e-3), metrics=["accuracy"],
                      batch_size=32, seed=0)
    history = trainer.fit((x_tr, y_tr), (x_te, y_te), epochs=10)
    test = trainer.evaluate((x_te, y_te))
    assert test["accuracy"] >= 0.95, test
    assert history.val_accuracy[-1] == test["accuracy"]
    # predict gives the outputs: its argmax reproduces the accuracy sklearn computes
    pred = trainer.predict(x_te)
    assert pred.shape == (len(x_te), 10) and pred.dtype == np.float32
    assert accuracy_score(y_te, pred.argmax(1)) == pytest.approx(test["accuracy"])
    assert history.loss[-1] < history.loss[0] / 5


def test_small_cnn_learns_digits_to_93_percent_test_accuracy(digits):
    x_tr, x_te, y_tr, y_te = digits
    img_tr, img_te = x_tr.reshape(-1, 1, 8, 8), x_te.reshape(-1, 1, 8, 8)
    trainer = Trainer(SmallCNN, CrossEntropyLoss(), lambda p: Adam(p, lr=3e-3), metrics=["accuracy"],
                      batch_size=32, seed=0)
    trainer.fit(DataLoader((img_tr, y_tr), batch_size=32, shuffle=True), epochs=8)
    assert trainer.evaluate((img_te, y_te))["accuracy"] >= 0.93


def test_regression_mlp_fits_a_known_function_with_r2_above_095():
    rng = np.random.default_rng(0)
    x = rng.uniform(-2, 2, (1200, 2)).astype(np.float32)
    y = (np.sin(x[:, :1] * 1.5) + 0.5 * x[:, 1:] ** 2).astype(np.float32)
    trainer = Trainer(lambda: MLP([2, 64, 64, 1]), MSELoss(), lambda p: Adam(p, lr=1e-2), metrics=["r2", "mae"],
                      batch_size=64, seed=1)
    trainer.fit((x[:1000], y[:1000]), epochs=40)
    result = trainer.evaluate((x[1000:], y[1000:]))
    assert result["r2"] >= 0.95, result
    assert result["loss"] == pytest.approx(np.mean((trainer.predict(x[1000:]) - y[1000:]) ** 2), rel=1e-5)


def test_epoch_loss_is_the_sample_weighted_mean_over_the_epoch():
    # lr = 0: the weights never move, so the epoch loss must equal the loss on the whole set at once
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((103, 4)).astype(np.float32), rng.integers(0, 3, 103)
    model = MLP([4, 8, 3])
    trainer = Trainer(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.0), metrics=["accuracy"],
                      batch_size=10)
    history = trainer.fit((x, y), epochs=1)
    with descend.no_grad():
        full = float(CrossEntropyLoss()(model(descend.tensor(x)), descend.tensor(y)).array)
        acc = float(np.mean(model(descend.tensor(x)).array.argmax(1) == y))
    assert history.loss[0] == pytest.approx(full, rel=1e-5)
    assert history.accuracy[0] == acc


def test_same_seed_gives_bit_identical_history_with_dropout_shuffling_and_augmentation(digits):
    x_tr, x_te, y_tr, y_te = digits

    def noise(x, generator):
        return x + generator.normal(0, 0.05, x.shape).astype(np.float32)

    def run(seed):
        trainer = Trainer(lambda: MLP([64, 32, 10], p_drop=0.3), CrossEntropyLoss(), lambda p: SGD(p, lr=0.1),
                          metrics=["accuracy"], seed=seed, augmentation=noise)
        history = trainer.fit((x_tr, y_tr), (x_te, y_te), epochs=3)
        return {k: v for k, v in history.history.items() if k != "time"}, trainer.model.state_dict()

    h1, w1 = run(7)
    h2, w2 = run(7)
    h3, _ = run(8)
    assert h1 == h2
    for k in w1:
        np.testing.assert_array_equal(w1[k], w2[k])
    assert h1["loss"] != h3["loss"]


def test_augmentation_is_applied_to_training_batches_only():
    seen = []

    def record(x, generator):
        seen.append(x.shape[0])
        return x * 0  # wipes the input: training sees zeros

    x = np.ones((20, 3), np.float32)
    y = np.zeros(20, np.int64)
    model = MLP([3, 2])
    trainer = Trainer(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.0), batch_size=8,
                      augmentation=record)
    trainer.fit((x, y), (x, y), epochs=1)
    assert seen == [8, 8, 4]
    trainer.evaluate((x, y))
    trainer.predict(x)
    assert seen == [8, 8, 4]


def test_gradient_clipping_bounds_the_global_norm_seen_by_the_step():
    norms = []

    class Spy(SGD):
        def step(self, closure=None):
            norms.append(np.sqrt(sum(float(np.sum(p.grad.array ** 2)) for p in self.param_groups[0]["params"])))
            return super().step(closure)

    class Raw(Callback):
        def on_after_backward(self, trainer):
            self.norm = np.sqrt(sum(float(np.sum(p.grad.array ** 2)) for p in trainer.params))

    rng = np.random.default_rng(0)
    x, y = (rng.standard_normal((64, 5)) * 50).astype(np.float32), rng.integers(0, 4, 64)
    model = MLP([5, 16, 4])
    raw = Raw()
    trainer = Trainer(model, CrossEntropyLoss(), Spy(model.parameters(), lr=1e-3), callbacks=[raw],
                      clip_grad_norm=0.5, batch_size=64, shuffle=False)
    trainer.fit((x, y), epochs=1)
    assert raw.norm > 5  # the unclipped gradient is large ...
    assert norms[0] == pytest.approx(0.5, rel=1e-4)  # ... and the step sees it rescaled to max_norm


def test_l1_penalty_adds_its_gradient_sign_w_times_lambda():
    x, y = np.zeros((4, 3), np.float32), np.zeros(4, np.int64)  # zero input: weights get no data gradient

    class Grab(Callback):
        def on_after_backward(self, trainer):
            self.grad = trainer.model.fc0.weight.grad.array.copy()

    model = MLP([3, 2])
    grab = Grab()
    trainer = Trainer(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.0), callbacks=[grab], l1=0.01)
    history = trainer.fit((x, y), epochs=1)
    np.testing.assert_allclose(grab.grad, 0.01 * np.sign(model.fc0.weight.array), rtol=1e-6)
    with descend.no_grad():  # lr = 0: the logged loss is the data loss alone, without the penalty
        data_loss = float(CrossEntropyLoss()(model(descend.tensor(x)), descend.tensor(y)).array)
    assert history.loss[0] == pytest.approx(data_loss, rel=1e-6)


def test_batch_interval_scheduler_steps_once_per_batch_and_lr_is_logged():
    from descend.optim.optimizer import Optimizer  # noqa: F401  (the real optimiser family)

    class Halve:
        def __init__(self, optimizer):
            self.optimizer, self.steps = optimizer, 0

        def step(self):
            self.steps += 1
            for g in self.optimizer.param_groups:
                g["lr"] *= 0.5

        def state_dict(self):
            return {"steps": self.steps}

        def load_state_dict(self, state):
            self.steps = state["steps"]

    x, y = np.zeros((30, 2), np.float32), np.zeros(30, np.int64)
    trainer = Trainer(lambda: MLP([2, 2]), CrossEntropyLoss(), lambda p: SGD(p, lr=1.0), scheduler=Halve,
                      scheduler_interval="batch", batch_size=10)
    history = trainer.fit((x, y), epochs=2)
    assert trainer.scheduler.steps == 6
    assert history.lr == [0.5 ** 3, 0.5 ** 6]
    epoch_trainer = Trainer(lambda: MLP([2, 2]), CrossEntropyLoss(), lambda p: SGD(p, lr=1.0), scheduler=Halve,
                            batch_size=10)
    assert epoch_trainer.fit((x, y), epochs=2).lr == [1.0, 0.5]  # lr in use during each epoch
    assert epoch_trainer.scheduler.steps == 2


def test_history_records_every_key_and_rows():
    x, y = np.zeros((8, 2), np.float32), np.zeros(8, np.int64)
    trainer = Trainer(lambda: MLP([2, 2]), CrossEntropyLoss(), lambda p: SGD(p, lr=0.1), metrics=["accuracy"])
    history = trainer.fit((x, y), (x, y), epochs=2)
    assert isinstance(history, History) and len(history) == 2
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy", "lr", "time"}
    rows = history.to_rows()
    assert rows[1]["epoch"] == 1 and rows[1]["val_loss"] == history.val_loss[1]
    assert history.best("val_loss", "min")[1] == min(history.val_loss)
    with pytest.raises(AttributeError, match="val_loss"):
        history.val_los


def test_evaluate_restores_train_mode_and_keeps_no_graph():
    x, y = np.zeros((5, 2), np.float32), np.zeros(5, np.int64)
    model = MLP([2, 2])
    trainer = Trainer(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.1))
    model.train()
    trainer.evaluate((x, y))
    assert model.training
    model.eval()
    trainer.predict(x)
    assert not model.training


def test_bad_arguments_raise_clear_errors():
    model = MLP([2, 2])
    opt = SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="scheduler_interval"):
        Trainer(model, CrossEntropyLoss(), opt, scheduler_interval="step")
    with pytest.raises(ValueError, match="clip_grad_norm"):
        Trainer(model, CrossEntropyLoss(), opt, clip_grad_norm=-1)
    with pytest.raises(ValueError, match="l1"):
        Trainer(model, CrossEntropyLoss(), opt, l1=-0.1)
    with pytest.raises(ValueError, match="batch_size"):
        Trainer(model, CrossEntropyLoss(), opt, batch_size=0)
    with pytest.raises(ValueError, match="unknown metric"):
        Trainer(model, CrossEntropyLoss(), opt, metrics=["acc_uracy"])
    with pytest.raises(TypeError, match="Callback"):
        Trainer(model, CrossEntropyLoss(), opt, callbacks=[object()])
    with pytest.raises(ValueError, match="pair"):
        Trainer(model, CrossEntropyLoss(), opt).fit([(descend.tensor(np.zeros((2, 2))),)], epochs=1)
