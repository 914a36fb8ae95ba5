"""`descend export RUN_DIR --format onnx`: the ONNX file of a trained run gives onnxruntime the same
predictions as `descend predict` on raw inputs (the run's standardisation is inside the graph)."""

import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("onnx", reason="onnx is not installed (pip install 'descend[onnx]')")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (the test extra)")

import descend  # noqa: E402
from descend.cli import main  # noqa: E402
from descend.app import load_run  # noqa: E402


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("export_run") / "run"
    descend.run_training({"train": {"epochs": 1}, "model": {"preset": "mlp", "hidden": [16]},
                          "data": {"standardize": True}}, out=out, progress=False)
    return out


def raw_digits(n):
    from sklearn.datasets import load_digits
    return load_digits().data[:n].astype(np.float32)


def test_export_cli_writes_onnx_matching_the_run_on_raw_inputs(run_dir, tmp_path, capsys):
    target = tmp_path / "digits.onnx"
    assert main(["export", str(run_dir), "--format", "onnx", "--output", str(target)]) == 0
    assert capsys.readouterr().out.strip() == str(target)
    _, model, meta = load_run(run_dir)
    sess = ort.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    x = raw_digits(17).reshape(17, *meta["input_shape"])
    s = meta["standardizer"]
    with descend.no_grad():
        want = model(descend.tensor((x - s["mean"]) / s["std"])).array
    got = sess.run(None, {"input": x})[0]
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-5)


def test_export_cli_defaults_to_run_dir_model_onnx(run_dir):
    proc = subprocess.run([sys.executable, "-m", "descend", "export", str(run_dir), "--format", "onnx"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (run_dir / "model.onnx").is_file() and proc.stdout.strip() == str(run_dir / "model.onnx")


def test_export_cli_reports_a_missing_run_in_one_line(tmp_path, capsys):
    assert main(["export", str(tmp_path), "--format", "onnx"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("descend: error:") and "not a run folder" in err and "\n" not in err
