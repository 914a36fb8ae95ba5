"""Learning-rate range test: the suggestion rules (closed forms), the smoothing, state restoration, a
suggestion that trains digits well, and `descend lr-find`."""

import copy
import json

import numpy as np
import pytest

import descend
from descend import nn, optim
from descend.cli import main
from descend.data import load_digits
from descend.diagnose import lr_find, smooth_losses, suggest_lr
from descend.train import Trainer


@pytest.fixture(scope="module")
def digits():
    s = load_digits(seed=0)
    return s.x_train.reshape(len(s.x_train), -1), s.y_train, s.x_val.reshape(len(s.x_val), -1), s.y_val


def _mlp():
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))


def test_steepest_rule_finds_the_inflection_of_a_tanh_curve():
    lrs = np.geomspace(1e-6, 1.0, 301)
    losses = 2.0 - np.tanh(np.log10(lrs / 3e-3)) + 5 * np.maximum(0, np.log10(lrs / 0.1)) ** 2
    s = suggest_lr(lrs, losses, "steepest")
    assert abs(np.log10(s / 3e-3)) < 0.05                    # the steepest descent is at lr = 3e-3


def test_min_tenth_rule_is_a_tenth_of_the_minimum():
    lrs = np.geomspace(1e-6, 1.0, 241)
    losses = (np.log10(lrs) + 2.0) ** 2                        # minimum at 1e-2
    assert suggest_lr(lrs, losses, "min_tenth") == pytest.approx(1e-3, rel=1e-9)
    with pytest.raises(ValueError, match="rule must be"):
        suggest_lr(lrs, losses, "median")
    with pytest.raises(ValueError, match="at least 3 finite points"):
        suggest_lr(lrs[:2], losses[:2])


def test_smoothing_is_bias_corrected():
    np.testing.assert_allclose(smooth_losses(np.full(50, 3.0)), 3.0, rtol=1e-12)   # no drift toward 0
    l = np.array([1.0, 2.0, 4.0])
    b = 0.9
    expected = [1.0, (b * 0.1 * 1 + 0.1 * 2) / (1 - b ** 2),
                (b * (b * 0.1 * 1 + 0.1 * 2) + 0.1 * 4) / (1 - b ** 3)]
    np.testing.assert_allclose(smooth_losses(l, b), expected, rtol=1e-12)


def test_range_test_restores_model_and_optimiser_state(digits):
    x, y, _, _ = digits
    descend.manual_seed(0)
    model = _mlp()
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    Trainer(model, nn.CrossEntropyLoss(), opt, seed=0).fit((x[:256], y[:256]), epochs=1)   # non-trivial state
    before_w = {k: v.copy() for k, v in model.state_dict().items()}
    before_o = copy.deepcopy(opt.state_dict())
    result = lr_find(model, nn.CrossEntropyLoss(), opt, (x, y), num_steps=150)
    assert result.stopped_early                                # SGD blows up before lr = 10
    assert result.smoothed[-1] > 4 * np.nanmin(result.smoothed)
    assert result.lrs[0] == pytest.approx(1e-7) and np.all(np.diff(np.log(result.lrs)) > 0)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before_w[k])
    after_o = opt.state_dict()
    assert after_o["param_groups"][0]["lr"] == 0.1
    np.testing.assert_equal(_arrays(after_o), _arrays(before_o))


def _arrays(tree):
    """Every array/number in a nested state dict, in order (for an exact comparison)."""
    if isinstance(tree, dict):
        return [v for k in sorted(tree, key=str) for v in _arrays(tree[k])]
    if isinstance(tree, (list, tuple)):
        return [v for item in tree for v in _arrays(item)]
    return [np.asarray(tree)]


def test_suggested_rate_trains_digits_well_and_is_near_a_known_good_adam_rate(digits):
    x, y, xv, yv = digits
    descend.manual_seed(0)
    model = _mlp()
    result = lr_find(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters()), (x, y), num_steps=200)
    s = result.suggestion
    assert 1e-4 <= s <= 1e-1, s                                # within 10x of Adam's good 1e-3 .. 1e-2
    descend.manual_seed(0)
    fresh = _mlp()
    history = Trainer(fresh, nn.CrossEntropyLoss(), optim.Adam(fresh.parameters(), lr=s), metrics=["accuracy"],
                      seed=0).fit((x, y), (xv, yv), epochs=3)
    assert history.history["val_accuracy"][-1] >= 0.9


def test_cli_lr_find_writes_plot_and_suggestion(tmp_path, capsys):
    out = tmp_path / "lr"
    assert main(["lr-find", "--set", "model.preset=\"mlp\"", "--steps", "60", "--start", "1e-5",
                 "--out", str(out)]) == 0
    data = json.loads((out / "lr_find.json").read_text())
    assert data["suggested_lr"] > 0 and len(data["lrs"]) == len(data["losses"]) <= 60
    assert (out / "lr_find.png").read_bytes()[:4] == b"\x89PNG"
    assert "suggested learning rate" in capsys.readouterr().out


def test_lr_find_rejects_bad_arguments(digits):
    model = _mlp()
    opt = optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="start_lr < end_lr"):
        lr_find(model, nn.CrossEntropyLoss(), opt, digits[:2], start_lr=1.0, end_lr=0.1)
    with pytest.raises(ValueError, match="num_steps"):
        lr_find(model, nn.CrossEntropyLoss(), opt, digits[:2], num_steps=2)
