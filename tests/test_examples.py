"""Every example in examples/ passes `descend config check` and runs on short settings (one epoch, a small
subset), driven as examples/README.md says: `descend train|tune examples/X.toml` and `python examples/X.py`
from the repository root."""

import json
import math
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

from descend.cli import main as descend_main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
CONFIGS = sorted(p.name for p in EXAMPLES.glob("*.toml"))
SCRIPTS = ["custom_loop.py", "trainer_callbacks.py", "optim_chain.py", "onnx_export.py",
           "make_csv.py", "make_image_folder.py"]
FASHION = Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")
SHORT = ["--set", "train.epochs=1", "--set", "diagnose.monitor=false", "--quiet"]


def _python(*args, timeout=240):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}   # the scripts import this checkout's descend
    return subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=timeout)


def _train(config, out, *overrides):
    sets = [a for o in overrides for a in ("--set", o)]
    r = _python("-m", "descend", "train", EXAMPLES / config, *SHORT, *sets, "--out", out)
    assert r.returncode == 0, r.stderr[-2000:]
    assert json.loads((out / "status.json").read_text())["status"] == "done"
    return json.loads((out / "summary.json").read_text())


def test_there_are_at_least_eight_configs_and_the_readme_lists_every_example_with_its_command():
    assert len(CONFIGS) >= 8
    readme = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    for name in CONFIGS:
        command = "descend tune" if "[tune]" in (EXAMPLES / name).read_text() else "descend train"
        assert f"{command} examples/{name}" in readme, name
    for name in SCRIPTS:
        assert f"python examples/{name}" in readme, name


@pytest.mark.parametrize("name", CONFIGS)
def test_example_config_passes_descend_config_check(name, capsys):
    assert descend_main(["config", "check", str(EXAMPLES / name)]) == 0
    assert capsys.readouterr().out.strip() == f"{EXAMPLES / name}: ok"


def test_descend_config_check_validates_the_tune_table_of_a_tuning_config(tmp_path, capsys):
    bad = (EXAMPLES / "tune-mlp.toml").read_text().replace("low = 1e-4, high = 3e-2", "low = 3e-2, high = 1e-4")
    (tmp_path / "bad.toml").write_text(bad)
    r = _python("-m", "descend", "config", "check", tmp_path / "bad.toml")
    assert r.returncode == 2 and "greater than high" in r.stderr


def test_shipped_csv_is_what_make_csv_writes(tmp_path):
    r = _python(EXAMPLES / "make_csv.py", tmp_path / "blobs.csv")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "blobs.csv").read_bytes() == (EXAMPLES / "data" / "blobs.csv").read_bytes()


def test_digits_cnn_example_trains(tmp_path):
    s = _train("digits-cnn.toml", tmp_path / "run", "data.subset=300")
    assert s["task"] == "classification" and s["epochs"] == 1 and s["train_samples"] == 300
    assert 0.0 <= s["test_accuracy"] <= 1.0 and math.isfinite(s["test_loss"])


def test_csv_mlp_example_learns_the_blobs(tmp_path):
    s = _train("csv-mlp.toml", tmp_path / "run", "train.epochs=5")
    assert s["task"] == "classification" and s["epochs"] == 5
    assert s["test_accuracy"] > 0.8              # three well-separated blobs; chance is 1/3


def test_regression_example_trains(tmp_path):
    s = _train("regression.toml", tmp_path / "run", "data.subset=300", "schedule.warmup_epochs=0")
    assert s["task"] == "regression" and math.isfinite(s["test_mae"]) and "test_r2" in s


def test_image_folder_example_trains_on_the_generated_folder(tmp_path):
    r = _python(EXAMPLES / "make_image_folder.py", tmp_path / "shapes", "--per-class", "12")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (tmp_path / "shapes").iterdir()) == ["cross", "ring", "square"]
    assert len(list((tmp_path / "shapes" / "ring").glob("*.png"))) == 12
    s = _train("image-folder.toml", tmp_path / "run", f'data.path="{tmp_path / "shapes"}"',
               f'data.cache_dir="{tmp_path / "cache"}"')
    assert s["task"] == "classification" and s["train_samples"] > 0 and "test_accuracy" in s


def test_mnist1d_gru_example_trains(tmp_path):
    pytest.importorskip("mnist1d", reason="MNIST-1D needs the sequence extra (pip install 'descend[sequence]')")
    s = _train("mnist1d-gru.toml", tmp_path / "run", "data.subset=300", "model.hidden=[16]")
    assert s["task"] == "classification" and s["train_samples"] == 300 and math.isfinite(s["val_loss"])


def test_char_lm_example_trains_on_the_docs_and_reports_bits_per_char(tmp_path):
    s = _train("char-lm.toml", tmp_path / "run", "model.hidden=[16]", "data.context=32")
    assert s["task"] == "language-model"
    assert s["test_bits_per_char"] == pytest.approx(s["test_loss"] / math.log(2), rel=1e-6)


@pytest.mark.skipif(not FASHION.is_file(), reason="Fashion-MNIST needs Debian's dataset-fashion-mnist package")
def test_fashion_mnist_example_trains_with_augmentation_and_onecycle(tmp_path):
    cfg = tomllib.loads((EXAMPLES / "fashion-mnist-cnn.toml").read_text())
    assert cfg["schedule"]["name"] == "onecycle" and cfg["data"]["augment"]
    s = _train("fashion-mnist-cnn.toml", tmp_path / "run", "data.subset=300", "model.hidden=[8,8]",
               "data.val_fraction=0.01")
    assert s["data"] == "fashion-mnist" and s["train_samples"] == 300 and "test_accuracy" in s
    lr = [float(row.split(",")[-2]) for row in (tmp_path / "run" / "history.csv").read_text().splitlines()[1:]]
    assert len(lr) == 1 and 0 < lr[0] <= cfg["optimizer"]["lr"]


def test_tune_example_runs_a_short_study(tmp_path):
    text = (EXAMPLES / "tune-mlp.toml").read_text()
    short = text.replace("epochs = 4", "epochs = 1").replace("subset = 800", "subset = 200")
    assert short != text
    (tmp_path / "tune.toml").write_text(short)
    r = _python("-m", "descend", "tune", tmp_path / "tune.toml", "--trials", "2", "--out", tmp_path / "study")
    assert r.returncode == 0, r.stderr[-2000:]
    assert (tmp_path / "study" / "best.toml").is_file()
    rows = (tmp_path / "study" / "trials.csv").read_text().splitlines()
    assert len(rows) == 3                      # header + two trials


def test_custom_loop_script_learns_digits():
    r = _python(EXAMPLES / "custom_loop.py", "--epochs", "2")
    assert r.returncode == 0, r.stderr
    losses = [float(line.split()[-1]) for line in r.stdout.splitlines() if line.startswith("epoch")]
    assert len(losses) == 2 and losses[1] < losses[0]
    assert float(r.stdout.split("held-out accuracy")[1]) > 0.7


def test_trainer_callbacks_script_writes_its_checkpoint_and_log(tmp_path):
    r = _python(EXAMPLES / "trainer_callbacks.py", "--epochs", "2", "--out", tmp_path / "tc")
    assert r.returncode == 0, r.stderr
    assert "new best val_loss" in r.stdout
    assert (tmp_path / "tc" / "best.safetensors").is_file()
    assert len((tmp_path / "tc" / "history.csv").read_text().splitlines()) == 3


def test_optim_chain_script_composes_adam_exactly():
    r = _python(EXAMPLES / "optim_chain.py", "--steps", "10")
    assert r.returncode == 0, r.stderr
    assert "largest weight difference 0.00e+00" in r.stdout


def test_onnx_export_script_matches_onnxruntime(tmp_path):
    pytest.importorskip("onnxruntime", reason="needs the onnx extra (pip install 'descend[onnx]')")
    r = _python(EXAMPLES / "onnx_export.py", "--epochs", "1", "--output", tmp_path / "m.onnx")
    assert r.returncode == 0, r.stderr
    diff = float(r.stdout.split("max |diff| ")[1].split(",")[0])
    assert diff < 1e-4 and (tmp_path / "m.onnx").stat().st_size > 0
