"""End-to-end studies on digits (short trials): every method finds its best, pruning stops trials, results are
written, best.toml retrains to the reported metric, and a rerun resumes the study."""

import csv
import json
import math

import pytest

import descend
from descend.cli import main
from descend.app.config import ConfigError
from descend.io import as_columns, read_history_csv

BASE = {"seed": 0, "data": {"subset": 300, "batch_size": 64}, "model": {"preset": "mlp", "hidden": [16]},
        "train": {"epochs": 2}}
LR = {"type": "float", "low": 1e-3, "high": 1e-1, "log": True}


def config(space, **tune):
    return {**BASE, "tune": {"pruner": "none", **tune, "space": space}}


def rows(out):
    with open(out / "trials.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("method", ["grid", "random", "bayesian", "gp"])
def test_each_method_runs_and_reports_its_best(tmp_path, method):
    if method == "grid":
        space = {"optimizer.lr": {"type": "categorical", "choices": [0.003, 0.03]},
                 "model.hidden": {"type": "categorical", "choices": [[16], [32]]}}
    else:
        space = {"optimizer.lr": LR, "model.dropout": {"type": "float", "low": 0.0, "high": 0.3}}
    result = descend.tune(config(space, method=method), trials=4, out=tmp_path / "t")
    table = rows(tmp_path / "t")
    assert [r["state"] for r in table] == ["COMPLETE"] * 4
    values = [float(r["val_loss"]) for r in table]
    assert result.best_value == pytest.approx(min(values), rel=1e-5)
    assert result.best_trial == values.index(min(values))
    assert result.best_config["optimizer"]["lr"] == pytest.approx(result.best_params["optimizer.lr"])
    assert "tune" not in result.best_config
    if method == "grid":    # every grid point exactly once
        assert sorted((r["optimizer.lr"], r["model.hidden"]) for r in table) == \
            [("0.003", "[16]"), ("0.003", "[32]"), ("0.03", "[16]"), ("0.03", "[32]")]
    else:                   # distinct sampled points, inside the space
        lrs = [float(r["optimizer.lr"]) for r in table]
        assert len(set(lrs)) == 4 and all(1e-3 <= v <= 1e-1 for v in lrs)


@pytest.mark.parametrize("pruner, extra", [("median", {"startup_trials": 1}),
                                           ("halving", {"min_resource": 1, "reduction_factor": 2})])
def test_aggressive_pruner_stops_trials_early(tmp_path, pruner, extra):
    cfg = config({"optimizer.lr": {"type": "float", "low": 1e-4, "high": 0.3, "log": True}},
                 method="random", pruner=pruner, **extra)
    cfg["train"] = {"epochs": 3}
    result = descend.tune(cfg, trials=6, out=tmp_path / "t")
    table = rows(tmp_path / "t")
    pruned = [r for r in table if r["state"] == "PRUNED"]
    assert len(pruned) >= 1, table
    for r in pruned:        # the pruner stopped training before the last epoch; the run folder shows it
        assert int(r["epochs"]) < 3
        hist = as_columns(read_history_csv(tmp_path / "t" / "trials" / f"trial-{int(r['trial']):04d}" / "history.csv"))
        assert len(hist["epoch"]) == int(r["epochs"])
    assert result.counts.get("PRUNED") == len(pruned)
    complete = [float(r["val_loss"]) for r in table if r["state"] == "COMPLETE"]
    assert result.best_value == pytest.approx(min(complete), rel=1e-5)


def test_results_best_toml_retrains_and_rerun_resumes(tmp_path):
    out = tmp_path / "t"
    space = {"optimizer.lr": LR, "model.hidden": {"type": "categorical", "choices": [[16], [32, 16]]}}
    first = descend.tune(config(space, method="random", metric="val_accuracy"), trials=3, out=out)
    before = rows(out)
    assert first.direction == "maximize" and len(before) == 3
    # results: table, best config, plots and report
    for name in ("history", "importance", "slices", "parallel"):
        assert (out / "plots" / f"{name}.png").read_bytes().startswith(b"\x89PNG")
    html = (out / "report.html").read_text()
    assert "Best trial" in html and "Optimisation history" in html
    for r in before:
        assert (out / "trials" / f"trial-{int(r['trial']):04d}" / "summary.json").is_file()
    # best.toml retrains, through the CLI, to the reported validation metric
    assert main(["train", str(out / "best.toml"), "--out", str(tmp_path / "re"), "--quiet"]) == 0
    summary = json.loads((tmp_path / "re" / "summary.json").read_text())
    assert summary["val_accuracy"] == pytest.approx(first.best_value, abs=1e-6)
    # a rerun with the same folder resumes: the finished trials stay, only the missing ones run
    second = descend.tune(config(space, method="random", metric="val_accuracy"), trials=5, out=out)
    after = rows(out)
    assert len(after) == 5 and after[:3] == before
    assert second.best_value >= first.best_value
    assert second.study_name == first.study_name


def test_too_few_trials_for_importances_is_a_note_not_a_crash(tmp_path):
    result = descend.tune(config({"optimizer.lr": LR}, method="random"), trials=1, out=tmp_path / "t")
    assert result.counts == {"COMPLETE": 1}
    assert any("at least 3 complete trials" in n for n in result.notes)
    assert not (tmp_path / "t" / "plots" / "importance.png").exists()
    assert math.isfinite(result.best_value)


def test_another_config_in_the_same_folder_is_refused(tmp_path):
    descend.tune(config({"optimizer.lr": LR}, method="random"), trials=1, out=tmp_path / "t")
    with pytest.raises(ConfigError, match="holds study"):
        descend.tune(config({"optimizer.lr": {**LR, "high": 0.05}}, method="random"), trials=1,
                     out=tmp_path / "t")
