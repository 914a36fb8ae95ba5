"""`descend evaluate | predict | runs | compare` and the run report, driven as a user would (subprocess)."""

import base64
import csv
import fcntl
import io
import json
import os
import subprocess
import sys
from html.parser import HTMLParser

import numpy as np
import pytest
from matplotlib.image import imread
from sklearn.datasets import load_digits

PY = [sys.executable, "-m", "descend"]


def cli(*args, cwd=None):
    return subprocess.run([*PY, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=300)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two short runs on a .npz of digits with its own test split (so the test inputs are known), trained
    once and shared by the xdist workers (a file lock in the session's common temporary folder)."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):      # workers' folders share this session's parent
        base = base.parent
    root = base / "cli_runs_shared"
    root.mkdir(exist_ok=True)
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / "done").exists():
            _train_runs(root)
            (root / "done").write_text("ok")
    return root, load_digits().target[1400:]


def _train_runs(root):
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None]
    y = digits.target.astype(np.int64)
    np.savez(root / "digits.npz", x_train=x[:1400], y_train=y[:1400], x_test=x[1400:], y_test=y[1400:])
    np.savez(root / "inputs.npz", x=x[1400:])
    for name, preset, epochs in (("a-mlp", "mlp", 1), ("b-cnn", "cnn", 2)):
        r = cli("train", "--quiet", "--out", root / "runs" / name, "--set", f"data.path={root / 'digits.npz'}",
                "--set", f"model.preset={preset}", "--set", "model.hidden=[8, 8]", "--set", f"train.epochs={epochs}",
                "--set", "data.standardize=true")
        assert r.returncode == 0, r.stderr[-2000:]


def test_evaluate_agrees_with_the_summary(runs):
    root, _ = runs
    run = root / "runs" / "b-cnn"
    r = cli("evaluate", run)
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    summary = json.loads((run / "summary.json").read_text())
    assert result["samples"] == 397
    assert result["accuracy"] == pytest.approx(summary["test_accuracy"], abs=1e-9)
    assert result["loss"] == pytest.approx(summary["test_loss"], rel=1e-4)


def test_predict_writes_npz_and_csv_consistent_with_evaluate(runs, tmp_path):
    root, y_test = runs
    run = root / "runs" / "b-cnn"
    r = cli("predict", run, root / "inputs.npz", "--output", tmp_path / "p.npz")
    assert r.returncode == 0, r.stderr
    with np.load(tmp_path / "p.npz") as z:
        pred, prob = z["prediction"], z["probabilities"]
    assert prob.shape == (397, 10) and np.allclose(prob.sum(axis=1), 1, atol=1e-5)
    assert np.array_equal(pred, prob.argmax(axis=1))
    accuracy = json.loads(cli("evaluate", run).stdout)["accuracy"]
    assert (pred == y_test).mean() == pytest.approx(accuracy)
    # the same inputs as a CSV of 64 feature columns
    flat = np.load(root / "inputs.npz")["x"].reshape(397, 64)
    with open(tmp_path / "in.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([f"px{i}" for i in range(64)])
        w.writerows(flat.tolist())
    r = cli("predict", run, tmp_path / "in.csv", "-o", tmp_path / "p.csv")
    assert r.returncode == 0, r.stderr
    with open(tmp_path / "p.csv") as f:
        rows = list(csv.DictReader(f))
    assert np.array_equal([int(row["prediction"]) for row in rows], pred)


def test_predict_rejects_inputs_of_the_wrong_shape_in_one_line(runs, tmp_path):
    root, _ = runs
    np.savez(tmp_path / "bad.npz", x=np.zeros((3, 5), np.float32))
    r = cli("predict", root / "runs" / "a-mlp", tmp_path / "bad.npz", "-o", tmp_path / "p.csv")
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0
    assert "do not fit the model's input shape (1, 8, 8)" in r.stderr


def test_runs_lists_both_runs_with_metrics(runs):
    root, _ = runs
    r = cli("runs", root / "runs")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert lines[0].split()[:2] == ["run", "status"] and "test_accuracy" in lines[0]
    assert lines[1].startswith("a-mlp") and lines[2].startswith("b-cnn") and "done" in lines[1]
    acc = json.loads((root / "runs" / "a-mlp" / "summary.json").read_text())["test_accuracy"]
    assert f"{acc:.4f}" in lines[1]
    assert cli("runs", root / "nothing").returncode == 2


def test_compare_overlays_the_runs_in_one_png(runs, tmp_path):
    root, _ = runs
    out = tmp_path / "cmp.png"
    r = cli("compare", root / "runs" / "a-mlp", root / "runs" / "b-cnn", "--output", out, "--metric", "val_loss")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(out)
    image = imread(out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and image.ndim == 3 and image.shape[0] > 100
    bad = cli("compare", root / "runs" / "a-mlp", "--metric", "val_acc")
    assert bad.returncode == 2 and "has no 'val_acc' column" in bad.stderr


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images, self.headings, self._in_h2, self.external = [], [], False, []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs["src"])
        for key in ("src", "href"):
            if attrs.get(key, "").startswith(("http://", "https://", "//")):
                self.external.append(attrs[key])
        self._in_h2 = tag == "h2"

    def handle_data(self, data):
        if self._in_h2:
            self.headings.append(data.strip())
            self._in_h2 = False


def test_report_is_self_contained_with_decodable_png_images(runs):
    root, _ = runs
    html = (root / "runs" / "b-cnn" / "report.html").read_text()
    parser = _Collect()
    parser.feed(html)
    for heading in ("Final metrics", "Curves", "Confusion matrix", "Model", "Configuration"):
        assert heading in parser.headings
    assert len(parser.images) >= 4 and not parser.external
    for src in parser.images:
        assert src.startswith("data:image/png;base64,")
        png = base64.b64decode(src.split(",", 1)[1])
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        assert imread(io.BytesIO(png)).size > 0
    assert "Conv2d" in html and "Total params" in html and "test_accuracy" in html
