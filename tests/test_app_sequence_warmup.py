"""The warm-up lesson, measured: a post-LN Transformer with Adam at a rate it cannot train at from the first step
trains once the rate is warmed up; at a higher rate it diverges, and `descend doctor` names the missing warm-up
(and gradient clipping) first among its remedies."""

import numpy as np
import pytest

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


def _run(path, out, lr, warmup):
    return run_training({"data": {"path": str(path), "batch_size": 32},
                         "model": {"preset": "transformer", "hidden": [32, 32], "heads": 4, "norm_first": False},
                         "optimizer": {"name": "adam", "lr": lr}, "schedule": {"warmup_epochs": warmup},
                         "train": {"epochs": 8}, "diagnose": {"every": 5}}, out=out, progress=False).summary


@pytest.mark.slow
def test_post_ln_transformer_trains_only_with_warmup(seq_file, tmp_path):
    cold = _run(seq_file, tmp_path / "cold", 0.05, 0)
    warm = _run(seq_file, tmp_path / "warm", 0.05, 3)
    assert cold["train_loss"] > 0.65 and cold["val_accuracy"] < 0.6, cold       # stuck at chance (ln 2)
    assert warm["train_loss"] < 0.5 and warm["val_accuracy"] > 0.75, warm


@pytest.mark.slow
def test_diverged_post_ln_transformer_doctor_names_warmup_and_clipping(seq_file, tmp_path, capsys):
    s = _run(seq_file, tmp_path / "hot", 0.3, 0)
    assert s["epochs"] == 1 and (tmp_path / "hot" / "divergence.json").is_file()      # the guard stopped it
    findings = diagnose_run(tmp_path / "hot")
    div = next(f for f in findings if f.name == "divergence")
    assert "warm-up" in div.remedies[0] and "clip_grad_norm" in div.remedies[0]
    assert main(["doctor", str(tmp_path / "hot")]) in (0, 1)
    assert "schedule.warmup_epochs" in capsys.readouterr().out
