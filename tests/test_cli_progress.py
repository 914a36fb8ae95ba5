"""Progress on long commands: the progress line, and lr-find / tune / playground / predict reporting to it;
lr-find writes under runs/ by default."""

import io
import os

import numpy as np
import pytest

import descend
from descend.app import lr_find_config, predict_run, run_playground, run_training
from descend.app.playground import OPTIMIZERS, SURFACES
from descend.cli import main
from descend.cli.progress import Progress, format_duration


class Recorder:
    def __init__(self, total=None):
        self.total, self.done, self.notes, self.closed = total, 0, [], 0

    def update(self, n=1, note=None):
        self.done += n
        self.notes.append(note)

    def close(self, note=None):
        self.closed += 1


def test_progress_line_counts_percent_and_eta_and_prints_each_interval():
    out = io.StringIO()
    p = Progress(4, "work", stream=out, interval=0.0)
    p.update(1, "first")
    p.update(1)
    line = out.getvalue().splitlines()[-1]
    assert line.startswith("work  2/4   50%  0s  eta 0s  first")
    p.close("done")
    assert out.getvalue().splitlines()[-1].startswith("work  2/4   50%") and "done" in out.getvalue()
    quiet = io.StringIO()
    q = Progress(100, "slow", stream=quiet, interval=3600)
    for _ in range(100):
        q.update()
    q.close()
    assert len(quiet.getvalue().splitlines()) == 2       # the first update and the final line only
    assert [format_duration(s) for s in (42, 187, 3720)] == ["42s", "3m07s", "1h02m"]
    with pytest.raises(ValueError, match="total must be a non-negative integer"):
        Progress(-1, "x")


def test_lr_find_reports_every_batch_and_writes_under_runs(tmp_path, monkeypatch, capsys):
    rec = Recorder()
    result = lr_find_config({"data": {"subset": 200}, "model": {"preset": "mlp", "hidden": [8]}}, num_steps=12,
                            progress=rec)
    assert rec.done == len(result.lrs) and rec.closed == 1
    monkeypatch.chdir(tmp_path)
    assert main(["lr-find", "--set", "data.subset=200", "--set", "model.preset=mlp", "--steps", "8"]) == 0
    (folder,) = os.listdir(tmp_path / "runs")
    assert folder.startswith("lr-find-") and (tmp_path / "runs" / folder / "lr_find.png").is_file()
    assert sorted(os.listdir(tmp_path)) == ["runs"]
    assert "lr-find: batch" in capsys.readouterr().err


def test_tune_reports_each_trial_with_the_best_so_far(tmp_path):
    recs = []

    def factory(total):
        recs.append(Recorder(total))
        return recs[-1]

    cfg = {"seed": 0, "data": {"subset": 200, "batch_size": 64}, "model": {"preset": "mlp", "hidden": [8]},
           "train": {"epochs": 1}, "tune": {"pruner": "none", "method": "random",
                                             "space": {"optimizer.lr": {"type": "float", "low": 1e-3,
                                                                        "high": 1e-1, "log": True}}}}
    result = descend.tune(cfg, trials=3, out=tmp_path / "t", progress=factory)
    (rec,) = recs
    assert rec.total == 3 and rec.done == 3 and rec.closed == 1
    assert rec.notes[-1].endswith(f"best {result.best_value:.4g} (trial {result.best_trial})")
    assert rec.notes[0].startswith("trial 0: ")


def test_tune_cli_silences_optuna_log_lines_unless_verbose(tmp_path, capsys):
    import optuna

    path = tmp_path / "c.toml"
    path.write_text('seed = 0\n[data]\nsubset = 150\n[model]\npreset = "mlp"\nhidden = [8]\n[train]\nepochs = 1\n'
                    '[tune]\ntrials = 1\npruner = "none"\nmethod = "random"\n'
                    '[tune.space]\n"optimizer.lr" = {type = "float", low = 0.001, high = 0.1, log = true}\n')
    try:
        assert main(["tune", str(path), "--out", str(tmp_path / "t")]) == 0
        assert optuna.logging.get_verbosity() == optuna.logging.WARNING
        assert "tune: trial  1/1" in capsys.readouterr().err
    finally:
        optuna.logging.set_verbosity(optuna.logging.INFO)


def test_playground_reports_each_trajectory():
    rec = Recorder()
    run_playground(None, steps=20, progress=rec)
    assert rec.done == len(SURFACES) * len(OPTIMIZERS) and rec.closed == 1
    assert rec.notes[0] == f"{next(iter(SURFACES))}: {next(iter(OPTIMIZERS))}"


def test_predict_reports_inputs_in_batches(tmp_path):
    run_training({"data": {"subset": 100}, "model": {"preset": "mlp", "hidden": [8]}, "train": {"epochs": 1},
                  "diagnose": {"monitor": False, "guard": False}}, out=tmp_path / "run", progress=False)
    np.savez(tmp_path / "in.npz", x=np.zeros((1300, 1, 8, 8), np.float32))
    recs = []
    predict_run(tmp_path / "run", tmp_path / "in.npz", tmp_path / "p.npz",
                progress=lambda n: recs.append(Recorder(n)) or recs[-1])
    assert recs[0].total == 1300 and recs[0].done == 1300 and recs[0].notes == [None] * 3 and recs[0].closed
