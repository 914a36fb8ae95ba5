"""The warm-up lesson, measured: a post-LN Transformer with Adam at a rate it cannot train at from the first step
trains once the rate is warmed up; at a higher rate it diverges, and `descend doctor` names the missing warm-up
(and gradient clipping) first among its remedies."""

import numpy as np
import pytest

from descend import kernels
from descend.app import run_training
from descend.cli import main
from descend.diagnose import diagnose_run


@pytest.fixture(scope="module")
def seq_file(tmp_path_factory):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((768, 16, 4)).astype(np.float32)
    y = (x[:, :, 0].sum(axis=1) > 0).astype(np.int64)
    path = tmp_path_factory.mktemp("warmup") / "seq.npz"
    np.savez(path, x_train=x, y_train=y)
    return path


def _run(path, out, lr, warmup, optimizer="adam", unit="epochs"):
    return run_training({"data": {"path": str(path), "batch_size": 32},
                         "model": {"preset": "transformer", "hidden": [32, 32], "heads": 4, "norm_first": False},
                         "optimizer": {"name": optimizer, "lr": lr}, "schedule": {f"warmup_{unit}": warmup},
                         "train": {"epochs": 8}, "diagnose": {"every": 5}}, out=out, progress=False).summary


def _run_seed(path, out, seed, warmup_steps):
    schedule = {"name": "cosine", "warmup_steps": warmup_steps} if warmup_steps else {}
    return run_training({"seed": seed, "data": {"path": str(path), "batch_size": 32},
                         "model": {"preset": "transformer", "hidden": [32, 32], "heads": 4, "norm_first": False},
                         "optimizer": {"name": "adam", "lr": 0.05}, "schedule": schedule,
                         "train": {"epochs": 8}}, out=out, progress=False).summary


@pytest.mark.slow
def test_post_ln_transformer_trains_only_with_warmup(seq_file, tmp_path):
    """Four seeds. Without warm-up every one stays at chance (ln 2 ≈ 0.693); warmed up over 60 steps and then
    cosine-decayed, the same rate lets some seeds learn. The lesson is on a knife edge at this rate: a warmed-up
    run can still collapse once the rate peaks, and which seeds learn moves with float32 rounding (measured over
    4 seeds and both code paths, docs/sequence.md, "Warm-up"), so the test asks for the effect across seeds, not
    for every seed, and not for the single lucky seed the first version of this test measured."""
    cold = [_run_seed(seq_file, tmp_path / f"cold{s}", s, 0)["train_loss"] for s in range(4)]
    warm = [_run_seed(seq_file, tmp_path / f"warm{s}", s, 60)["train_loss"] for s in range(4)]
    assert min(cold) > 0.64, cold                                         # stuck at chance, every seed
    # warmed up, some seeds learn (measured best 0.56 with the kernels, 0.58 without, against cold ≥ 0.69) and
    # none does worse than chance on average
    assert min(warm) < min(cold) - 0.05 and np.mean(warm) < np.mean(cold), (cold, warm)


@pytest.mark.slow
def test_diverged_post_ln_transformer_doctor_names_warmup_and_clipping(seq_file, tmp_path, capsys):
    s = _run(seq_file, tmp_path / "hot", 0.3, 0)
    assert s["epochs"] == 1 and (tmp_path / "hot" / "divergence.json").is_file()      # the guard stopped it
    findings = diagnose_run(tmp_path / "hot")
    div = next(f for f in findings if f.name == "divergence")
    assert "warm-up" in div.remedies[0] and "clip_grad_norm" in div.remedies[0]
    assert main(["doctor", str(tmp_path / "hot")]) in (0, 1)
    assert "schedule.warmup_epochs" in capsys.readouterr().out


@pytest.mark.slow
def test_post_ln_transformer_sgd_diverges_without_warmup_steps_and_trains_with_them(seq_file, tmp_path, capsys):
    """SGD at lr 1.0 (17 batches an epoch): from the first step the loss blows up within the first epoch and
    the divergence guard stops the run; ramped up over 60 steps (3.5 epochs) the same rate trains."""
    cold = _run(seq_file, tmp_path / "cold", 1.0, 0, optimizer="sgd", unit="steps")
    assert cold["epochs"] == 1 and cold.get("diverged") and (tmp_path / "cold" / "divergence.json").is_file(), cold
    div = next(f for f in diagnose_run(tmp_path / "cold") if f.name == "divergence")
    assert "warm-up" in div.remedies[0] and "schedule.warmup_steps" in div.remedies[0]
    assert main(["doctor", str(tmp_path / "cold")]) in (0, 1)
    assert "schedule.warmup_steps" in capsys.readouterr().out
    with kernels.disabled():           # measured on the NumPy path; the kernels' rounding ends it at loss 0.68
        warm = _run(seq_file, tmp_path / "warm", 1.0, 60, optimizer="sgd", unit="steps")
    assert warm["epochs"] == 8 and not warm.get("diverged") and not (tmp_path / "warm" / "divergence.json").exists()
    assert warm["train_loss"] < 0.6 and warm["val_accuracy"] > 0.72, warm      # chance: ln 2 = 0.693, 0.52


def _lrs(schedule, epochs, steps_per_epoch):
    """The rate each optimiser step trains with, for ``[schedule]`` built by the app (stepped as the Trainer does)."""
    from descend import Tensor, optim
    from descend.app.config import check_config
    from descend.app.factories import build_scheduler
    cfg = check_config({"optimizer": {"name": "sgd", "lr": 0.1}, "schedule": schedule, "train": {"epochs": epochs}})
    opt = optim.SGD([Tensor(np.zeros(2, np.float32), requires_grad=True)], lr=0.1)
    sched, interval = build_scheduler(cfg, opt, steps_per_epoch)
    rates = []
    for _ in range(epochs):
        for _ in range(steps_per_epoch):
            rates.append(opt.param_groups[0]["lr"])
            if interval == "batch":
                sched.step()
        if interval == "epoch" and sched is not None:
            sched.step()
    return np.array(rates), interval


def test_warmup_steps_ramps_linearly_per_batch_then_holds_the_rate():
    rates, interval = _lrs({"warmup_steps": 4}, epochs=2, steps_per_epoch=3)
    assert interval == "batch"
    np.testing.assert_allclose(rates, 0.1 * np.array([1 / 5, 2 / 5, 3 / 5, 4 / 5, 1, 1]), rtol=1e-6)


def test_warmup_steps_then_cosine_anneals_over_the_remaining_batches():
    rates, interval = _lrs({"name": "cosine", "warmup_steps": 2, "min_lr": 0.0}, epochs=2, steps_per_epoch=3)
    t = np.arange(4)                              # 6 steps - 2 warm-up steps = T_max 4, counted in batches
    expected = np.concatenate([0.1 * np.array([1 / 3, 2 / 3]), 0.05 * (1 + np.cos(np.pi * t / 4))])
    assert interval == "batch"
    np.testing.assert_allclose(rates, expected, rtol=1e-5, atol=1e-9)


def test_warmup_steps_then_step_decays_every_step_size_epochs_of_batches():
    rates, _ = _lrs({"name": "step", "warmup_steps": 2, "step_size": 1, "gamma": 0.5}, epochs=3, steps_per_epoch=2)
    np.testing.assert_allclose(rates, 0.1 * np.array([1 / 3, 2 / 3, 1, 1, 0.5, 0.5]), rtol=1e-6)


@pytest.mark.parametrize("schedule, expected", [
    ({"warmup_steps": 10, "warmup_epochs": 1}, "schedule.warmup_steps = 10 conflicts with schedule.warmup_epochs = 1"),
    ({"name": "onecycle", "warmup_steps": 10}, "warmup_steps conflicts with schedule.name = 'onecycle'"),
    ({"name": "plateau", "warmup_steps": 10}, "warmup_steps conflicts with schedule.name = 'plateau'"),
    ({"warmup_steps": -1}, "schedule.warmup_steps = -1 is out of range"),
])
def test_warmup_steps_config_errors_name_the_conflict(schedule, expected):
    from descend.app.config import ConfigError, check_config
    with pytest.raises(ConfigError, match=expected.replace("(", r"\(").replace(".", r"\.")) as err:
        check_config({"schedule": schedule})
    assert "\n" not in str(err.value)


def test_warmup_steps_longer_than_the_run_is_refused():
    from descend.app.config import ConfigError
    with pytest.raises(ConfigError, match=r"warmup_steps = 6 must be less than the run's 6 optimiser steps"):
        _lrs({"warmup_steps": 6}, epochs=2, steps_per_epoch=3)


def test_config_show_documents_warmup_steps(capsys):
    assert main(["config", "show"]) == 0
    out = capsys.readouterr().out
    assert "warmup_steps" in out and "linear warm-up optimiser steps" in out
