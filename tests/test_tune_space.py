"""The [tune] table and its search space: parsing, value mapping, grids, and every bad space rejected
before any trial runs (Python API and CLI)."""

import pytest

import descend
from descend.cli import main
from descend.app.config import ConfigError
from descend.tune import prepare
from descend.tune.space import Dimension, parse_dimension

BASE = {"data": {"subset": 200}, "model": {"preset": "mlp", "hidden": [16]}, "train": {"epochs": 1}}


def cfg(space, **tune):
    return {**BASE, "tune": {"trials": 2, **tune, "space": space}}


LR = {"type": "float", "low": 1e-4, "high": 1e-1, "log": True}


def test_parse_full_table_and_direction_follows_metric():
    base, s = prepare(cfg({"optimizer.lr": LR, "data.batch_size": {"type": "categorical", "choices": [32, 64]},
                           "model.hidden": {"type": "categorical", "choices": [[64], [128, 64]]},
                           "schedule.step_size": {"type": "int", "low": 2, "high": 8, "step": 2}},
                          metric="val_accuracy", method="random", pruner="halving"))
    assert base["model"]["hidden"] == [16] and "tune" not in base
    assert s.direction == "maximize" and s.method == "random" and s.pruner == "halving"
    assert [d.key for d in s.space] == ["optimizer.lr", "data.batch_size", "model.hidden", "schedule.step_size"]
    _, s2 = prepare(cfg({"optimizer.lr": LR}))
    assert s2.direction == "minimize" and s2.metric == "val_loss"


def test_categorical_lists_round_trip_through_labels():
    d = parse_dimension("model.hidden", {"type": "categorical", "choices": [[64], [128, 64]]})
    assert d.labels == ("[64]", "[128, 64]")
    assert d.value_of("[128, 64]") == [128, 64]
    scalar = parse_dimension("data.batch_size", {"type": "categorical", "choices": [32, 64]})
    assert scalar.labels == (32, 64) and scalar.value_of(64) == 64


def test_grid_enumerates_steps_and_choices():
    _, s = prepare(cfg({"model.dropout": {"type": "float", "low": 0.0, "high": 0.3, "step": 0.1},
                        "data.batch_size": {"type": "categorical", "choices": [32, 64]},
                        "schedule.step_size": {"type": "int", "low": 1, "high": 3}}, method="grid"))
    grid = s.grid()
    assert len(grid) == 4 * 2 * 3
    assert sorted({p["model.dropout"] for p in grid}) == [0.0, 0.1, 0.2, 0.3]
    assert sorted({p["schedule.step_size"] for p in grid}) == [1, 2, 3]
    assert len({tuple(p.values()) for p in grid}) == len(grid)


@pytest.mark.parametrize("space, tune, message", [
    ({"optimizer.lr": {"type": "float", "low": 0.1, "high": 0.01}}, {}, "low = 0.1 is greater than high = 0.01"),
    ({"optimizer.lr": {"type": "float", "low": 0.0, "high": 0.1, "log": True}}, {}, "log scale needs low > 0"),
    ({"optimizer.lrr": LR}, {}, "did you mean 'optimizer.lr'"),
    ({"optimizer.lr": {"type": "uniform", "low": 0.1, "high": 1}}, {}, "unknown type 'uniform'"),
    ({"data.batch_size": {"type": "categorical", "choices": []}}, {}, "non-empty list 'choices'"),
    ({"optimizer.lr": LR}, {"method": "grid"}, "cannot enumerate a log scale"),
    ({"model.dropout": {"type": "float", "low": 0.0, "high": 0.5}}, {"method": "grid"}, "give this float "
                                                                                         "dimension a step"),
    ({"model.dropout": {"type": "float", "low": 0.0, "high": 1.0}}, {}, "model.dropout = 1.0 is out of range"),
    ({"data.batch_size": {"type": "float", "low": 16, "high": 64}}, {}, "data.batch_size must be an integer"),
    ({"optimizer.lr": LR}, {"metric": "test_accuracy"}, "never the test split"),
    ({"optimizer.lr": LR}, {"methd": "grid"}, "did you mean 'method'"),
    ({"optimizer.lr": LR}, {"pruner": "hyperband"}, "tune.pruner = 'hyperband' is not one of"),
    ({}, {}, "[tune.space] table is missing or empty"),
])
def test_bad_spaces_fail_before_any_trial(tmp_path, space, tune, message):
    with pytest.raises(ConfigError) as info:
        descend.tune(cfg(space, **tune), out=tmp_path / "study")
    assert message in str(info.value)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "study").exists()          # nothing was started


def test_no_tune_table_is_a_clear_error():
    with pytest.raises(ConfigError, match=r"no \[tune\] table"):
        prepare(BASE)


def test_cli_bad_space_exits_nonzero_with_one_line(tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text('[tune.space]\n"optimizer.lr" = { type = "float", low = 1.0, high = 0.5 }\n')
    code = main(["tune", str(path), "--out", str(tmp_path / "t")])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("descend: error: ") and "greater than high" in err and "\n" not in err
    assert not (tmp_path / "t").exists()


def test_descend_tune_is_callable_and_a_package():
    assert callable(descend.tune)
    assert descend.tune.run_study.__name__ == "run_study"
    assert isinstance(Dimension("optimizer.lr", "float", 0.1, 1.0), Dimension)
