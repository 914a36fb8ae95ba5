"""`descend train` driven as a user would (subprocess): the default run, every preset/optimiser/schedule,
one-line errors on bad input, and Ctrl-C then --resume reaching the uninterrupted run's weights."""

import csv
import json
import signal
import subprocess
import sys
import time
import tomllib

import numpy as np
import pytest

from descend.app.config import default_config
from descend.io import load

PY = [sys.executable, "-m", "descend"]


def cli(*args, cwd=None, timeout=300):
    return subprocess.run([*PY, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=timeout)


def sets(**pairs):
    out = []
    for key, value in pairs.items():
        out += ["--set", f"{key.replace('__', '.')}={value}"]
    return out


TINY = dict(data__subset=160, train__epochs=2, data__batch_size=32)


@pytest.mark.slow
def test_default_run_reaches_high_test_accuracy_and_writes_the_run_folder(tmp_path):
    """`descend train` with no arguments: the embedded default (small CNN on digits)."""
    start = time.perf_counter()
    r = cli("train", cwd=tmp_path)
    elapsed = time.perf_counter() - start
    assert r.returncode == 0, r.stderr[-2000:]
    runs = list((tmp_path / "runs").iterdir())
    assert len(runs) == 1 and runs[0].name.endswith("-digits-cnn")
    run = runs[0]
    summary = json.loads((run / "summary.json").read_text())
    print(f"default run: {elapsed:.1f} s wall (subprocess), summary {summary}")
    assert summary["test_accuracy"] >= 0.95
    assert summary["epochs"] == default_config()["train"]["epochs"]
    for key in ("train_loss", "val_loss", "val_accuracy", "test_loss", "wall_time_s", "parameters"):
        assert isinstance(summary[key], (int, float))
    assert tomllib.loads((run / "config.toml").read_text()) == default_config()
    with open(run / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == summary["epochs"]
    assert float(rows[-1]["val_loss"]) == pytest.approx(summary["val_loss"], rel=1e-5)   # float32 sums
    for name in ("loss", "accuracy", "lr", "confusion_matrix"):
        assert (run / "plots" / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (run / "checkpoints" / "last.safetensors").is_file()
    assert (run / "checkpoints" / "best.safetensors").is_file()
    assert (run / "report.html").is_file()
    assert "epoch 1/" in r.stdout + r.stderr        # the progress bar


@pytest.mark.parametrize("overrides", [
    dict(model__preset="mlp", model__hidden="[16]", optimizer__name="sgd", optimizer__lr=0.1),
    dict(model__preset="cnn", model__hidden="[4, 8]", optimizer__name="momentum", optimizer__lr=0.05,
         schedule__name="step", schedule__step_size=1, schedule__gamma=0.5),
    dict(model__preset="resnet", model__hidden="[4]", optimizer__name="nesterov", optimizer__lr=0.05,
         schedule__name="cosine", schedule__warmup_epochs=1),
    dict(model__preset="mlp", model__hidden="[16]", optimizer__name="adagrad", optimizer__lr=0.05,
         schedule__name="onecycle"),
    dict(model__preset="mlp", model__hidden="[16]", optimizer__name="rmsprop", optimizer__lr=0.001,
         schedule__name="plateau", schedule__patience=0, train__clip_grad_norm=1.0),
    dict(model__preset="mlp", model__hidden="[16]", optimizer__name="adamw", optimizer__weight_decay=0.01,
         schedule__warmup_epochs=1, train__l1=1e-4, model__activation="gelu", model__dropout=0.2),
    dict(model__preset="mlp", model__hidden="[16]", optimizer__name="nadam", model__batchnorm="false",
         model__init="orthogonal", data__standardize="true"),
    dict(model__preset="cnn", model__hidden="[4]", optimizer__name="lion", optimizer__lr=3e-4,
         data__augment='["crop", "noise"]', train__early_stopping_patience=1),
    dict(model__layers='[{type="conv2d", out_channels=4, kernel_size=3, padding=1}, {type="relu"}, '
                       '{type="linear", out_features=10}]', optimizer__name="adam"),
])
def test_every_preset_optimiser_and_schedule_trains(tmp_path, overrides):
    r = cli("train", "--quiet", "--out", tmp_path / "run", *sets(**{**TINY, **overrides}))
    assert r.returncode == 0, r.stderr[-2000:]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert 1 <= summary["epochs"] <= 2 and np.isfinite(summary["train_loss"])
    assert 0.0 <= summary["test_accuracy"] <= 1.0
    with open(tmp_path / "run" / "history.csv") as f:
        lrs = [float(row["lr"]) for row in csv.DictReader(f)]
    lr = overrides.get("optimizer__lr", 0.003)              # the rate logged is the one each epoch used
    if overrides.get("schedule__name") == "step":         # halved after each epoch
        assert lrs == pytest.approx([lr, lr / 2])
    if overrides.get("schedule__warmup_epochs") == 1:      # lr / 2 in the warm-up epoch, then the full rate
        assert lrs == pytest.approx([lr / 2, lr])


def test_regression_on_synthetic_data_reports_regression_metrics(tmp_path):
    r = cli("train", "--quiet", "--out", tmp_path / "run",
            *sets(data__name="synthetic-regression", model__preset="mlp", model__hidden="[32]", train__epochs=3,
                  data__standardize="true"))
    assert r.returncode == 0, r.stderr[-2000:]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["task"] == "regression"
    assert "test_r2" in summary and "test_accuracy" not in summary and np.isfinite(summary["test_loss"])


def test_bad_inputs_fail_with_one_line_and_nonzero_exit(tmp_path):
    nan = tmp_path / "nan.npz"
    x = np.random.default_rng(0).standard_normal((50, 4)).astype(np.float32)
    x[7, 2] = np.nan
    np.savez(nan, x_train=x, y_train=np.arange(50) % 3)
    cases = [
        (sets(model__widths="[3]"), "unknown config key 'model.widths'"),
        (sets(data__path=tmp_path / "missing.npz"), "does not exist"),
        (sets(data__path=nan, model__preset="mlp"), "contains NaN"),
        (sets(data__name="mnist"), "data.name = 'mnist' is not one of"),
        (sets(model__preset="cnn", data__name="synthetic-regression"), "needs image data"),
        (sets(model__preset="mlp", data__name="synthetic-regression", data__augment='["flip"]'),
         "data.augment = ['flip'] needs image data"),
    ]
    for args, message in cases:
        r = cli("train", "--quiet", "--out", tmp_path / "out", *args)
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 2 and len(lines) == 1, r.stderr
        assert lines[0].startswith("descend: error:") and message in lines[0], lines[0]


def _weights(run):
    return load(run / "model.safetensors")["model"]


@pytest.mark.slow
def test_sigint_then_resume_equals_the_uninterrupted_run_bit_for_bit(tmp_path):
    args = sets(data__subset=600, train__epochs=3, model__hidden="[4, 8]", model__dropout=0.2,
                schedule__name="cosine", data__augment='["shift"]')
    full = cli("train", "--quiet", "--out", tmp_path / "full", *args)
    assert full.returncode == 0, full.stderr[-2000:]

    run = tmp_path / "cut"
    # Ctrl-C's default action in the child, whatever this process inherited: a shell starts background jobs
    # (nohup …&) with SIGINT ignored, and Python then keeps ignoring it, so the run would never be interrupted
    proc = subprocess.Popen([*PY, "train", "--quiet", "--out", str(run), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    while not (run / "checkpoints" / "last.safetensors").exists() and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err and "descend train --resume" in err
    summary = json.loads((run / "summary.json").read_text())
    assert summary["interrupted"] and 1 <= summary["epochs"] < 3

    resumed = cli("train", "--quiet", "--resume", run)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    a, b = _weights(tmp_path / "full"), _weights(run)
    assert list(a) == list(b)
    for key in a:
        assert np.array_equal(a[key], b[key]), key
    hist_full = (tmp_path / "full" / "history.csv").read_text().splitlines()
    hist_cut = (run / "history.csv").read_text().splitlines()
    assert [r.split(",")[:-1] for r in hist_full] == [r.split(",")[:-1] for r in hist_cut]  # all but time


def test_resume_of_a_folder_without_checkpoint_is_one_line(tmp_path):
    r = cli("train", "--resume", tmp_path)
    assert r.returncode == 2 and "no config.toml" in r.stderr and r.stderr.strip().count("\n") == 0


def test_csv_data_with_a_named_label_column_and_its_own_test_fraction(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((300, 3))
    y = (x[:, 0] + x[:, 1] > 0).astype(int)
    with open(tmp_path / "d.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["a", "b", "c", "target"])
        w.writerows([[*row, label] for row, label in zip(x.round(4).tolist(), y)])
    r = cli("train", "--quiet", "--out", tmp_path / "run",
            *sets(data__path=tmp_path / "d.csv", data__label_column="target", data__test_fraction=0.3,
                  model__preset="mlp", model__hidden="[16]", train__epochs=15, optimizer__lr=0.01))
    assert r.returncode == 0, r.stderr[-2000:]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["task"] == "classification" and summary["train_samples"] == 180   # 300 − 30% test − 10% val
    assert summary["test_accuracy"] >= 0.9                  # a linearly separable rule, learned


def test_early_stopping_keeps_the_best_weights_and_notes_it_in_the_report(tmp_path):
    r = cli("train", "--quiet", "--out", tmp_path / "run",
            *sets(train__early_stopping_patience=1, train__epochs=12, optimizer__lr=0.05, model__preset="mlp",
                  model__batchnorm="false", data__subset=300))
    assert r.returncode == 0, r.stderr[-2000:]
    run = tmp_path / "run"
    summary = json.loads((run / "summary.json").read_text())
    with open(run / "history.csv") as f:
        val = [float(row["val_loss"]) for row in csv.DictReader(f)]
    assert summary["stopped_early"] and summary["epochs"] < 12 and val[-1] > min(val)
    best = load(run / "checkpoints" / "best.safetensors")
    final = _weights(run)
    assert all(np.array_equal(best[k], final[k]) for k in final)
    assert summary["val_loss"] == pytest.approx(min(val), rel=1e-5)      # the restored model's val_loss
    assert "Early stopping ended training after epoch" in (run / "report.html").read_text()
