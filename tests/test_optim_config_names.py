"""The new optimisers are names a config can give: ``[optimizer] name = "adadelta"`` trains with
optim.Adadelta at the configured lr and weight decay, exactly as building it by hand does."""

import numpy as np
import pytest

import descend
from descend import optim
from descend.app import build_optimizer, run_training
from descend.app.config import ConfigError, check_config

TINY = {"data": {"subset": 200, "batch_size": 50}, "train": {"epochs": 1}, "model": {"batchnorm": False},
        "diagnose": {"monitor": False, "guard": False}}


def _config(**optimizer):
    cfg = {k: dict(v) for k, v in TINY.items()}
    cfg["optimizer"] = optimizer
    return cfg


def test_config_name_adadelta_trains_with_adadelta_at_the_configured_options(tmp_path):
    cfg = check_config(_config(name="adadelta", lr=1.0, weight_decay=1e-4))
    assert cfg["optimizer"]["name"] == "adadelta"
    run = run_training(_config(name="adadelta", lr=1.0, weight_decay=1e-4), out=tmp_path / "a", progress=False)
    assert np.isfinite(run.summary["val_loss"])
    again = run_training(_config(name="adadelta", lr=1.0, weight_decay=1e-4), out=tmp_path / "b", progress=False)
    other = run_training(_config(name="adamax", lr=1.0, weight_decay=1e-4), out=tmp_path / "c", progress=False)
    a, b, c = (r.model.state_dict() for r in (run, again, other))
    for k in a:
        np.testing.assert_array_equal(np.asarray(a[k]), np.asarray(b[k]))  # deterministic
    assert any(not np.array_equal(np.asarray(a[k]), np.asarray(c[k])) for k in a)  # the name chose the optimiser
    assert 'name = "adadelta"' in (tmp_path / "a" / "config.toml").read_text()


@pytest.mark.parametrize("name,cls", [("adadelta", optim.Adadelta), ("adamax", optim.Adamax), ("radam", optim.RAdam),
                                      ("asgd", optim.ASGD), ("rprop", optim.Rprop)])
def test_config_names_build_the_new_optimisers(name, cls):
    params = [descend.nn.Parameter(np.zeros(3, np.float32))]
    wd = 0.0 if name == "rprop" else 0.01
    opt = build_optimizer({"name": name, "lr": 0.2, "weight_decay": wd, "momentum": 0.9}, params)
    assert type(opt) is cls and opt.param_groups[0]["lr"] == 0.2
    if name != "rprop":
        assert opt.param_groups[0]["weight_decay"] == 0.01


def test_config_rprop_with_weight_decay_fails_in_one_line():
    params = [descend.nn.Parameter(np.zeros(3, np.float32))]
    with pytest.raises(ConfigError, match=r"optimizer.name = 'rprop' has no weight decay; set optimizer.weight_decay"):
        build_optimizer({"name": "rprop", "lr": 0.2, "weight_decay": 0.1, "momentum": 0.9}, params)
