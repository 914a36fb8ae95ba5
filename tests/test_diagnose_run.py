"""Diagnostics inside `descend train` runs: divergence stopped with a finite checkpoint, a healthy CNN's
clean report, `descend doctor`, and the curve detectors on constructed histories."""

import json

import numpy as np
import pytest

import descend
from descend.cli import main
from descend.diagnose import (DivergenceGuard, detect_curves, detect_divergence, detect_gradients, diagnose,
                              diagnose_run)


@pytest.fixture(scope="module")
def diverged(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "lr10"
    cfg = {"model": {"preset": "mlp", "batchnorm": False}, "optimizer": {"name": "sgd", "lr": 10.0},
           "train": {"epochs": 3}}
    return descend.run_training(cfg, out=out, progress=False)


@pytest.fixture(scope="module")
def healthy(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "cnn"
    return descend.run_training({"train": {"epochs": 3}}, out=out, progress=False)


def test_learning_rate_10_is_stopped_at_once_with_a_finite_checkpoint(diverged, capsys):
    out = diverged.out
    event = json.loads((out / "divergence.json").read_text())
    assert event["epoch"] == 0 and event["batch"] < 10           # stopped in the first epoch, within batches
    assert diverged.summary["epochs"] == 1
    assert event["suggested_lr"] == pytest.approx(1.0)          # a tenth of the current rate
    ckpt = out / "checkpoints" / "last_good.safetensors"
    assert event["checkpoint"] == str(ckpt)
    weights = descend.load(ckpt)
    assert weights and all(np.isfinite(w).all() for w in weights.values())
    model = descend.load(out / "model.safetensors")["model"]    # the run's final model is the good one too
    assert all(np.isfinite(w).all() for w in model.values())
    findings = diagnose_run(out)
    assert findings[0].name == "divergence" and findings[0].severity == "error"
    assert str(ckpt) in findings[0].message
    assert any("1" in r and "learning rate" in r for r in findings[0].remedies)
    assert any("clip" in r for r in findings[0].remedies)
    assert main(["doctor", str(out)]) == 1
    assert "divergence" in capsys.readouterr().out


def test_healthy_cnn_run_gets_a_clean_report_and_doctor(healthy, capsys):
    out = healthy.out
    assert healthy.summary["test_accuracy"] > 0.9
    assert (out / "health.csv").is_file() and not (out / "divergence.json").exists()
    findings = diagnose_run(out)
    assert [f for f in findings if f.level > 0] == [], [str(f) for f in findings]
    html = (out / "report.html").read_text()
    assert "Training health" in html and "Gradient flow" in html
    assert (out / "plots" / "gradient_flow.png").stat().st_size > 1000
    assert (out / "plots" / "activations.png").stat().st_size > 1000
    assert main(["doctor", str(out)]) == 0
    assert "No problems found" in capsys.readouterr().out


def test_guard_catches_a_nan_loss_and_restores_the_last_good_weights(tmp_path):
    from descend import nn, optim
    from descend.train import Trainer

    descend.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 1))
    x = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)
    y = x.sum(axis=1, keepdims=True)
    first = {k: v.copy() for k, v in model.state_dict().items()}
    guard = DivergenceGuard(every=1000, checkpoint=tmp_path / "good.safetensors")

    def loss(out, target):
        value = ((out - target) ** 2).mean()
        return value * float("nan") if guard._t == 3 else value   # the 4th batch's loss is NaN
    Trainer(model, loss, optim.SGD(model.parameters(), lr=0.01), callbacks=[guard], batch_size=8,
            shuffle=False).fit((x, y), epochs=2)
    assert guard.event["step"] == 3 and guard.event["good_step"] == 0
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, first[k])           # back to the snapshot taken at step 0
    np.testing.assert_array_equal(descend.load(tmp_path / "good.safetensors")["0.weight"], first["0.weight"])


def test_curve_detectors_on_constructed_histories():
    overfit = {"loss": [1.0, 0.5, 0.3, 0.2, 0.1, 0.05], "val_loss": [1.0, 0.6, 0.5, 0.6, 0.7, 0.8]}
    assert [f.name for f in detect_curves(overfit)] == ["overfitting"]
    plateau = {"loss": [2.0, 1.2] + [1.0] * 7, "val_loss": [2.0, 1.3] + [1.1] * 7}
    assert [f.name for f in detect_curves(plateau)] == ["plateau"]
    under = {"loss": [2.3, 2.2, 2.1, 2.05], "val_loss": [2.3, 2.2, 2.15, 2.1]}
    assert [f.name for f in detect_curves(under)] == ["underfitting"]
    good = {"loss": [1.0, 0.4, 0.2, 0.12, 0.08, 0.06, 0.05], "val_loss": [0.9, 0.4, 0.25, 0.2, 0.18, 0.17, 0.17]}
    assert detect_curves(good) == []
    nan = {"loss": [1.0, float("nan")]}
    assert detect_divergence(nan)[0].evidence == {"epoch": 2}
    rising = {"loss": [1.0, 0.5, 0.6], "val_loss": [1.0, 0.5, 2.5]}
    assert detect_divergence(rising)[0].name == "divergence"


def test_exploding_gradients_are_flagged_from_records():
    rec = lambda step, layer, g: {"step": step, "layer": layer, "kind": "Linear", "order": int(layer), "grad_norm": g}
    inf = [rec(0, "0", 1.0), rec(0, "2", 1.0), rec(5, "0", float("inf")), rec(5, "2", 3.0)]
    f = detect_gradients(inf)
    assert f[0].name == "exploding_gradients" and f[0].severity == "error" and f[0].layers == ["0"]
    growing = [rec(s, l, 0.5 * 3.0 ** s) for s in range(9) for l in ("0", "2")]
    names = [x.name for x in detect_gradients(growing)]
    assert names == ["exploding_gradients"]
    steady = [rec(s, l, 0.5 + 0.1 * (s % 2)) for s in range(9) for l in ("0", "2")]
    assert detect_gradients(steady) == []
    assert diagnose({"loss": [1.0, 0.5]}, steady) == []


def test_doctor_on_a_folder_without_a_run_fails_with_one_line(tmp_path, capsys):
    assert main(["doctor", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "holds no history.csv" in err[0]
