"""The run configuration: defaults, TOML round trip, overrides and strict validation."""

import tomllib

import pytest

from descend.app.config import (ConfigError, SCHEMA, all_keys, apply_overrides, check_config, default_config,
                            load_config, merge_config, parse_value, to_toml)


def test_every_key_has_a_default_and_a_one_line_comment():
    keys = all_keys()
    for required in ["seed", "data.name", "data.path", "data.label_column", "data.batch_size",
                     "data.val_fraction", "data.test_fraction", "data.augment", "data.standardize",
                     "model.preset", "model.hidden", "model.activation", "model.dropout", "model.batchnorm",
                     "model.init", "model.layers", "optimizer.name", "optimizer.lr", "optimizer.weight_decay",
                     "optimizer.momentum", "schedule.name", "schedule.warmup_epochs", "train.epochs",
                     "train.early_stopping_patience", "train.clip_grad_norm", "train.l1"]:
        assert required in keys
    for section in SCHEMA.values():
        for spec in section.values():
            assert spec.comment and "\n" not in spec.comment


def test_to_toml_parses_back_to_the_defaults_with_a_comment_per_key():
    text = to_toml()
    assert tomllib.loads(text) == default_config()
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if "=" in line and not line.startswith("#"):
            assert lines[i - 1].startswith("# "), line


def test_to_toml_round_trips_explicit_layers():
    cfg = check_config({"model": {"layers": [{"type": "conv2d", "out_channels": 4, "kernel_size": 3},
                                             {"type": "relu"}, {"type": "linear", "out_features": 10}]}})
    assert tomllib.loads(to_toml(cfg)) == cfg


def test_partial_config_is_merged_over_defaults(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('seed = 7\n[optimizer]\nname = "sgd"\nlr = 0.5\n')
    cfg = load_config(path)
    assert cfg["seed"] == 7 and cfg["optimizer"]["name"] == "sgd" and cfg["optimizer"]["lr"] == 0.5
    assert cfg["optimizer"]["momentum"] == default_config()["optimizer"]["momentum"]
    assert cfg["data"] == default_config()["data"]


def test_overrides_parse_values_as_toml():
    assert parse_value("3") == 3 and parse_value("0.5") == 0.5 and parse_value("true") is True
    assert parse_value("[64, 32]") == [64, 32] and parse_value("adam") == "adam"
    cfg = apply_overrides(default_config(), ["model.hidden=[8, 4]", "optimizer.name=sgd", "train.epochs = 2"])
    assert cfg["model"]["hidden"] == [8, 4] and cfg["optimizer"]["name"] == "sgd" and cfg["train"]["epochs"] == 2


@pytest.mark.parametrize("user, expected", [
    ({"model": {"hiden": [3]}}, "unknown config key 'model.hiden'; did you mean 'model.hidden'"),
    ({"optimiser": {"lr": 0.1}}, "did you mean 'optimizer'"),
    ({"sed": 3}, "did you mean 'seed'"),
    ({"optimizer": {"lr": "fast"}}, "optimizer.lr must be a number, got 'fast'"),
    ({"train": {"epochs": 2.5}}, "train.epochs must be an integer, got 2.5"),
    ({"data": {"standardize": 1}}, "data.standardize must be true or false"),
    ({"optimizer": {"lr": -0.1}}, "optimizer.lr = -0.1 is out of range; it must be > 0"),
    ({"model": {"dropout": 1.0}}, "model.dropout = 1.0 is out of range; it must be in [0, 1)"),
    ({"optimizer": {"name": "adamm"}}, "did you mean 'adam'"),
    ({"schedule": {"name": "cosin"}}, "did you mean 'cosine'"),
    ({"data": {"augment": ["flip", "rotate"]}}, "data.augment = 'rotate' is not one of"),
    ({"model": {"hidden": [16, 0]}}, "model.hidden = 0 is out of range"),
    ({"schedule": {"name": "onecycle", "warmup_epochs": 1}}, "conflicts with schedule.name = 'onecycle'"),
    ({"schedule": {"warmup_epochs": 5}, "train": {"epochs": 5}}, "must be less than train.epochs = 5"),
    ({"data": {"val_fraction": 0.5, "test_fraction": 0.5}}, "leaves no training data"),
    ({"model": {"preset": "mlp", "layers": [{"type": "relu"}]}}, "model.layers conflicts with model.preset = 'mlp'"),
    ({"data": {"label_column": "y"}}, "data.label_column applies only with data.path"),
    ({"model": {"layers": [{"type": "conv"}]}}, "unknown layer type 'conv'; did you mean 'conv2d'"),
    ({"model": {"layers": [{"type": "linear"}]}}, "model.layers[0] (linear) needs 'out_features'"),
    ({"model": {"layers": [{"type": "linear", "out_feature": 3}]}}, "did you mean 'out_features'"),
    ({"model": {"layers": [{"out_features": 3}]}}, "model.layers[0] has no 'type'"),
])
def test_bad_configs_fail_with_one_line_naming_the_problem(user, expected):
    with pytest.raises(ConfigError) as info:
        check_config(user)
    message = str(info.value)
    assert expected in message
    assert "\n" not in message


def test_unknown_key_in_set_override_is_rejected_with_suggestion():
    with pytest.raises(ConfigError, match="did you mean 'optimizer.lr'"):
        check_config({}, ["optimizer.lt=0.1"])
    with pytest.raises(ConfigError, match="expects key=value"):
        check_config({}, ["optimizer.lr"])


def test_missing_and_invalid_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("seed = = 3\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)


def test_merge_does_not_share_state_with_the_defaults():
    a = merge_config({"model": {"hidden": [5]}})
    a["model"]["hidden"].append(6)
    assert merge_config({})["model"]["hidden"] == []


def test_a_resolved_config_written_as_toml_validates_again(tmp_path):
    for user in ({}, {"model": {"layers": [{"type": "linear", "out_features": 10}]}},
                 {"data": {"path": "x.csv", "label_column": "y"}}):
        path = tmp_path / "resolved.toml"
        path.write_text(to_toml(check_config(user)))
        assert load_config(path) == check_config(user)


def test_integer_values_of_float_keys_become_floats():
    cfg = check_config({"optimizer": {"lr": 1}, "train": {"l1": 0}})
    assert type(cfg["optimizer"]["lr"]) is float and cfg["optimizer"]["lr"] == 1.0
    assert type(cfg["train"]["l1"]) is float
