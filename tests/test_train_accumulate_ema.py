"""Gradient accumulation equals the k-times batch; the EMA callback matches a hand-computed average, is used
for evaluation and the final model, and resumes exactly."""

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_limits

from descend.nn.linear import Linear
from descend.nn.loss import CrossEntropyLoss
from descend.nn.module import Module
from descend.optim import SGD, Adam
from descend.train import EMA, Callback, Trainer


@pytest.fixture(autouse=True, scope="module")
def one_blas_thread():
    with threadpool_limits(1):
        yield


class Net(Module):
    def __init__(self):
        super().__init__()
        self.fc1 = Linear(5, 12)
        self.fc2 = Linear(12, 3)

    def forward(self, x):
        return self.fc2(self.fc1(x).tanh())


def data(n=38):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((n, 5)).astype(np.float32)
    y = ((x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0.5)).astype(np.int64)
    return x, y


def fit(batch_size, k=1, epochs=3, opt=lambda p: SGD(p, lr=0.2, momentum=0.9), callbacks=(), clip=None, n=38):
    t = Trainer(Net, CrossEntropyLoss(), opt, seed=4, batch_size=batch_size, shuffle=False,
                accumulate_batches=k, callbacks=callbacks, clip_grad_norm=clip)
    t.fit(data(n), epochs=epochs)
    return t


def weights(t):
    return {k: np.asarray(v) for k, v in t.model.state_dict().items()}


@pytest.mark.parametrize("n", [36, 38])   # 38: the last group holds 2 samples (one batch of 2), as the 12-batch
def test_accumulating_3_batches_of_4_equals_batches_of_12(n):
    small = fit(4, k=3, n=n)
    big = fit(12, k=1, n=n)
    for key, want in weights(big).items():
        np.testing.assert_allclose(weights(small)[key], want, rtol=1e-5, atol=1e-6)
    # the logged epoch loss is the mean over all samples either way
    assert small.history.history["loss"][-1] == pytest.approx(big.history.history["loss"][-1], rel=1e-5)


def test_accumulation_with_adam_and_clipping_equals_the_large_batch():
    adam = lambda p: Adam(p, lr=0.01)  # noqa: E731
    small = fit(5, k=4, opt=adam, clip=0.5, n=38)   # groups of 20, 18 samples: batches 5,5,5,5 | 5,5,5,3
    big = fit(20, k=1, opt=adam, clip=0.5, n=38)
    for key, want in weights(big).items():
        np.testing.assert_allclose(weights(small)[key], want, rtol=1e-4, atol=1e-5)


def test_accumulation_counts_optimizer_steps_per_group():
    steps = []

    class Count(Callback):
        def on_after_step(self, trainer):
            steps.append(1)

    fit(4, k=3, epochs=2, callbacks=[Count()], n=38)   # 10 batches per epoch -> 4 steps (3+3+3+1)
    assert len(steps) == 8
    with pytest.raises(ValueError, match="accumulate_batches must be a positive integer"):
        Trainer(Net(), CrossEntropyLoss(), lambda p: SGD(p, lr=0.1), accumulate_batches=0)


def test_ema_matches_hand_computed_average_and_is_the_final_model():
    seen = []

    class Record(Callback):
        def on_train_begin(self, logs=None):
            seen.append({k: p.array.astype(np.float64) for k, p in self.trainer.model.named_parameters()})

        def on_after_step(self, trainer):
            seen.append({k: p.array.astype(np.float64) for k, p in trainer.model.named_parameters()})

    d = 0.8
    ema = EMA(decay=d)
    t = fit(8, epochs=2, callbacks=[Record(), ema])
    want = dict(seen[0])
    for w in seen[1:]:
        want = {k: d * want[k] + (1 - d) * w[k] for k in want}
    assert ema.updates == len(seen) - 1 == 10
    for name, p in t.model.named_parameters():     # after fit the model holds the average
        np.testing.assert_allclose(p.array, want[name], rtol=1e-5, atol=1e-6)
        assert not np.allclose(p.array, seen[-1][name], atol=1e-4)   # ...which differs from the live weights


def test_ema_weights_are_used_for_validation_and_the_live_ones_restored():
    x, y = data()
    seen = {}

    class Probe(Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen["val"] = logs["val_loss"]
            seen["live"] = {k: p.array.copy() for k, p in self.trainer.model.named_parameters()}

    ema = EMA(0.7)
    t = Trainer(Net, CrossEntropyLoss(), lambda p: SGD(p, lr=0.2), seed=2, batch_size=8, shuffle=False,
                callbacks=[ema, Probe()])
    t.fit((x, y), val_data=(x, y), epochs=1)
    # recompute the val loss of the averaged weights with torch as the oracle
    sd = {k: torch.tensor(v) for k, v in ema.shadow.items()}
    h = torch.tanh(torch.tensor(x) @ sd["fc1.weight"].T + sd["fc1.bias"])
    want = torch.nn.functional.cross_entropy(h @ sd["fc2.weight"].T + sd["fc2.bias"], torch.tensor(y))
    assert seen["val"] == pytest.approx(float(want), rel=1e-5)
    assert not np.allclose(seen["live"]["fc1.weight"], ema.shadow["fc1.weight"])   # live weights were back


def test_ema_resume_is_exact(tmp_path):
    full = fit(8, epochs=4, callbacks=[EMA(0.9)])
    Trainer(Net, CrossEntropyLoss(), lambda p: SGD(p, lr=0.2, momentum=0.9), seed=4, batch_size=8,
            shuffle=False, callbacks=[EMA(0.9)]).fit(data(), epochs=2, checkpoint_dir=tmp_path)
    resumed = Trainer(Net, CrossEntropyLoss(), lambda p: SGD(p, lr=0.2, momentum=0.9), seed=4, batch_size=8,
                      shuffle=False, callbacks=[EMA(0.9)])
    resumed.fit(data(), epochs=4, resume_from=tmp_path)
    for key, want in weights(full).items():
        np.testing.assert_array_equal(weights(resumed)[key], want)
    with pytest.raises(ValueError, match=r"decay must be a number in \[0, 1\)"):
        EMA(1.0)


def test_config_ema_decay_saves_the_averaged_model_and_accumulation_runs(tmp_path):
    from descend.app import run_training
    from descend.app.run_folder import load_run
    from descend.io import checkpoint

    r = run_training({"data": {"subset": 160, "batch_size": 16}, "model": {"preset": "mlp", "hidden": [16]},
                      "train": {"epochs": 2, "ema_decay": 0.9, "accumulate_batches": 2},
                      "diagnose": {"monitor": False, "guard": False}}, out=tmp_path / "run", progress=False)
    _, saved, _ = load_run(tmp_path / "run")
    live = checkpoint.load(tmp_path / "run" / "checkpoints" / "last.safetensors")["model"]
    ema = checkpoint.load(tmp_path / "run" / "checkpoints" / "last.safetensors")["callbacks"]
    (shadow,) = [c["state"]["shadow"] for c in ema if c["class"] == "EMA"]
    for name, p in saved.named_parameters():
        np.testing.assert_array_equal(p.array, shadow[name])
        assert not np.array_equal(p.array, np.asarray(live[name]))
    assert r.summary["epochs"] == 2
