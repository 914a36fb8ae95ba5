"""One registry per kind: a name registered once is valid in the config, its comments, the CLI help and
run_training, with no other file touched; unknown names fail in one line naming the nearest."""

import numpy as np
import pytest

import descend
from descend import optim
from descend.app import OPTIMIZERS, PRESETS, build_optimizer, run_training
from descend.app.config import ConfigError, check_config, to_toml
from descend.registry import Registry

TINY = {"data": {"subset": 200, "batch_size": 50}, "train": {"epochs": 1}, "model": {"batchnorm": False},
        "diagnose": {"monitor": False, "guard": False}}


def _sgd_twice(params, cfg):
    """SGD at twice the configured rate: the run must match built-in sgd at 2 lr exactly."""
    return optim.SGD(params, lr=2 * cfg["lr"], weight_decay=cfg["weight_decay"])


def _linear(model_cfg, input_shape, num_outputs):
    """Softmax regression: Flatten → Linear(num_outputs)."""
    return [{"type": "flatten"}, {"type": "linear", "out_features": num_outputs}]


@pytest.fixture
def registered():
    OPTIMIZERS.register("sgd_twice", _sgd_twice)
    PRESETS.register("linear", _linear, note="softmax regression")
    try:
        yield
    finally:
        OPTIMIZERS.unregister("sgd_twice")
        PRESETS.unregister("linear")


def _config(**sections):
    cfg = {k: dict(v) for k, v in TINY.items()}
    for k, v in sections.items():
        cfg.setdefault(k, {}).update(v)
    return cfg


def test_registered_optimizer_and_preset_pass_validation_and_show_in_config_comments(registered):
    cfg = check_config({"optimizer": {"name": "sgd_twice"}, "model": {"preset": "linear"}})
    assert cfg["optimizer"]["name"] == "sgd_twice" and cfg["model"]["preset"] == "linear"
    text = to_toml()
    assert ("# optimiser: sgd, momentum, nesterov, adagrad, rmsprop, adam, adamw, nadam, lion, adadelta, adamax, radam, "
            "asgd, rprop (full-batch; no weight decay), sgd_twice") in text
    assert ("# architecture preset: mlp, cnn, resnet (a small residual CNN), rnn (sequences), lstm (sequences, "
            "text), gru (sequences), transformer (sequences, text: causal) or linear (softmax regression)") in text
    with pytest.raises(ConfigError, match=r"optimizer.name = 'sgd_twise' is not one of .*; did you mean 'sgd_twice'"):
        check_config({"optimizer": {"name": "sgd_twise"}})


def test_registered_names_are_invalid_again_after_unregistering():
    with pytest.raises(ConfigError, match="optimizer.name = 'sgd_twice' is not one of"):
        check_config({"optimizer": {"name": "sgd_twice"}})
    with pytest.raises(ConfigError, match="model.preset = 'linear' is not one of"):
        check_config({"model": {"preset": "linear"}})


def test_run_training_uses_a_registered_optimizer_and_preset(registered, tmp_path):
    lr = 0.05
    mine = run_training(_config(optimizer={"name": "sgd_twice", "lr": lr}, model={"preset": "linear"}),
                        out=tmp_path / "mine", progress=False)
    builtin = run_training(_config(optimizer={"name": "sgd", "lr": 2 * lr}, model={"preset": "linear"}),
                           out=tmp_path / "builtin", progress=False)
    assert mine.summary["parameters"] == 8 * 8 * 10 + 10       # digits 1×8×8 → 10 classes, one Linear
    a, b = mine.model.state_dict(), builtin.model.state_dict()
    assert list(a) == ["1.weight", "1.bias"]
    for k in a:
        np.testing.assert_array_equal(np.asarray(a[k]), np.asarray(b[k]))
    assert mine.summary["val_loss"] == builtin.summary["val_loss"]
    assert (tmp_path / "mine" / "config.toml").read_text().count('name = "sgd_twice"') == 1
    plain = run_training(_config(optimizer={"name": "sgd", "lr": lr}, model={"preset": "linear"}),
                         out=tmp_path / "plain", progress=False)
    assert not np.array_equal(np.asarray(plain.model.state_dict()["1.weight"]), np.asarray(a["1.weight"]))


def test_build_optimizer_reads_the_registry_for_every_config_name():
    params = [descend.nn.Parameter(np.zeros(3, np.float32))]
    base = {"lr": 0.1, "weight_decay": 0.0, "momentum": 0.9}
    kinds = {name: type(build_optimizer({"name": name, **base}, params)).__name__ for name in OPTIMIZERS}
    assert kinds == {"sgd": "SGD", "momentum": "SGD", "nesterov": "SGD", "adagrad": "Adagrad", "rmsprop": "RMSprop",
                     "adam": "Adam", "adamw": "AdamW", "nadam": "NAdam", "lion": "Lion", "adadelta": "Adadelta",
                     "adamax": "Adamax", "radam": "RAdam", "asgd": "ASGD", "rprop": "Rprop"}
    nesterov = build_optimizer({"name": "nesterov", **base}, params).param_groups[0]
    assert nesterov["nesterov"] is True and nesterov["momentum"] == 0.9
    with pytest.raises(ConfigError, match="optimizer.name = 'momentum' needs optimizer.momentum > 0"):
        build_optimizer({"name": "momentum", **base, "momentum": 0.0}, params)


def test_registry_lookup_aliases_and_one_line_errors():
    r = Registry("widget")
    r.register("alpha", lambda: 1, aliases=("a",))

    @r.register("beta", size=3)
    def beta():
        return 2

    assert r.names() == ("alpha", "beta") and len(r) == 2 and list(r) == ["alpha", "beta"]
    assert r.build("a") == 1 and r.get("beta") is beta and r.info("beta") == {"size": 3}
    assert "a" in r and "gamma" not in r and r.resolve("a") == "alpha"
    with pytest.raises(ValueError, match=r"^unknown widget 'alpah' \(valid: alpha, beta\); did you mean 'alpha'\?$"):
        r.get("alpah")
    with pytest.raises(ValueError, match=r"^unknown widget 'zzz' \(valid: alpha, beta\)$"):
        r.get("zzz")
    with pytest.raises(ValueError, match="'alpha' is already registered; pass replace=True"):
        r.register("alpha", lambda: 3)
    r.register("alpha", lambda: 3, replace=True)
    assert r.build("alpha") == 3
    r.unregister("beta")
    assert r.names() == ("alpha",)
    with pytest.raises(TypeError, match="must be callable"):
        r.register("delta", 5)


def test_playground_and_cli_read_the_optimizer_registry():
    from descend.cli import build_parser
    from descend.app import playground
    assert set(playground.OPTIMIZERS.values()) <= set(OPTIMIZERS.names())
    opt = playground.make_optimizer("Nesterov", [descend.nn.Parameter(np.zeros(2))], 0.01)
    assert type(opt).__name__ == "SGD" and opt.param_groups[0]["nesterov"] is True
    help_text = " ".join(build_parser().format_help().split())
    assert "draw GD, momentum, Nesterov, AdaGrad, RMSprop and Adam on 2-D surfaces" in help_text


def _tune_config(choices):
    return {"tune": {"space": {"optimizer.name": {"type": "categorical", "choices": choices}}}}


def test_tune_search_space_accepts_a_registered_optimizer_name(registered):
    from descend.tune import prepare
    _, s = prepare(_tune_config(["adam", "sgd_twice"]))
    assert [d.key for d in s.space] == ["optimizer.name"] and s.space[0].choices == ("adam", "sgd_twice")


def test_tune_search_space_rejects_an_unregistered_optimizer_name():
    from descend.tune import prepare
    with pytest.raises(ConfigError, match="'sgd_twice' is not one of"):
        prepare(_tune_config(["adam", "sgd_twice"]))


def test_lr_finder_builds_the_registered_parts_through_the_app_factories(registered):
    from descend.app import lr_find_config
    result = lr_find_config({"model": {"preset": "linear"}, "optimizer": {"name": "sgd_twice"}}, num_steps=8,
                            start_lr=1e-4, end_lr=1e-1)
    assert result.extra == {"optimizer": "sgd_twice", "config_lr": 0.003}
    np.testing.assert_allclose(result.lrs, 1e-4 * 1000 ** (np.arange(8) / 7))
    assert np.isfinite(result.losses).all() and result.losses[0] == pytest.approx(np.log(10), rel=0.2)
