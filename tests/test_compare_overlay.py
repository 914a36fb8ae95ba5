"""`descend compare` / `compare_runs`: training and validation curves of several runs in one figure,
one colour per run, training solid and validation dashed, runs labelled by their config name."""

import subprocess
import sys

import numpy as np
import pytest

from descend.app import compare_runs
from descend.app.inspect import compare_histories
from descend.io import plots


def _run(folder, loss, val_loss, name=""):
    folder.mkdir(parents=True)
    rows = ["epoch,loss,accuracy,val_loss,val_accuracy,lr,time"]
    rows += [f"{i + 1},{a},0.5,{b},0.5,0.001,0.1" for i, (a, b) in enumerate(zip(loss, val_loss))]
    (folder / "history.csv").write_text("\n".join(rows) + "\n")
    (folder / "config.toml").write_text(f'seed = 0\nname = "{name}"\n')
    return folder


@pytest.fixture
def two_runs(tmp_path):
    a = _run(tmp_path / "20261201-100000-adam", [1.0, 0.6, 0.4], [1.1, 0.8, 0.7], name="adam-run")
    b = _run(tmp_path / "20261201-110000-sgd", [2.0, 1.5], [2.2, 1.9])
    return a, b


def test_compare_histories_pairs_each_metric_with_its_validation_column_and_labels_by_name(two_runs):
    runs, columns = compare_histories(two_runs, "loss")
    assert columns == ["loss", "val_loss"]
    assert list(runs) == ["adam-run", "20261201-110000-sgd"]      # config name, else the folder's name
    assert runs["adam-run"]["val_loss"] == [1.1, 0.8, 0.7]
    assert runs["20261201-110000-sgd"]["loss"] == [2.0, 1.5]
    assert compare_histories(two_runs, "val_loss")[1] == ["val_loss"]   # a val_ column alone


def test_compare_figure_draws_train_solid_and_validation_dashed_in_one_colour_per_run(two_runs):
    runs, columns = compare_histories(two_runs, "loss")
    fig = plots.compare_figure(runs, columns)
    lines = {ln.get_label(): ln for ln in fig.axes[0].get_lines()}
    assert set(lines) == {"adam-run loss", "adam-run val_loss", "20261201-110000-sgd loss",
                          "20261201-110000-sgd val_loss"}
    a_train, a_val = lines["adam-run loss"], lines["adam-run val_loss"]
    np.testing.assert_allclose(a_train.get_xdata(), [1, 2, 3])
    np.testing.assert_allclose(a_train.get_ydata(), [1.0, 0.6, 0.4])
    np.testing.assert_allclose(a_val.get_ydata(), [1.1, 0.8, 0.7])
    np.testing.assert_allclose(lines["20261201-110000-sgd val_loss"].get_ydata(), [2.2, 1.9])
    assert a_train.get_linestyle() == "-" and a_val.get_linestyle() == "--"
    assert a_train.get_color() == a_val.get_color() != lines["20261201-110000-sgd loss"].get_color()
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "adam-run val_loss" in legend and len(legend) == 4


def test_compare_runs_labels_two_runs_sharing_a_config_name_by_their_folders(tmp_path):
    a = _run(tmp_path / "r1", [1.0], [1.0], name="same")
    b = _run(tmp_path / "r2", [2.0], [2.0], name="same")
    runs, _ = compare_histories([a, b])
    assert list(runs) == ["same (r1)", "same (r2)"]


def test_compare_without_validation_column_draws_only_training(tmp_path):
    a = tmp_path / "a"
    a.mkdir()
    (a / "history.csv").write_text("epoch,loss,lr\n1,0.9,0.1\n2,0.5,0.1\n")
    runs, columns = compare_histories([a])
    assert columns == ["loss"] and list(runs) == ["a"]        # no config.toml: the folder's name
    fig = plots.compare_figure(runs, ["loss", "val_loss"])    # extra columns are drawn where recorded
    assert [ln.get_label() for ln in fig.axes[0].get_lines()] == ["a loss"]


def test_compare_rejects_bad_arguments_with_the_fix(two_runs, tmp_path):
    with pytest.raises(ValueError, match="non-empty list"):
        compare_histories(str(two_runs[0]))
    with pytest.raises(ValueError, match="end the name with .png"):
        compare_runs(two_runs, output=tmp_path / "x.jpg")
    with pytest.raises(ValueError, match="1 to 4 column names"):
        plots.compare_figure({"a": {"loss": [1.0]}}, [])


def test_descend_compare_cli_writes_the_overlay_png(two_runs, tmp_path):
    out = tmp_path / "cmp.png"
    r = subprocess.run([sys.executable, "-m", "descend", "compare", *map(str, two_runs), "--output", str(out)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(out) and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    help_text = subprocess.run([sys.executable, "-m", "descend", "compare", "--help"], capture_output=True,
                               text=True, timeout=60).stdout
    assert "validation" in help_text and "training" in help_text
