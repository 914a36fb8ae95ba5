"""``build_callbacks``: the lead process's callbacks, and those of a data-parallel rank other than 0."""

import pytest

import descend
from descend.app import build_callbacks, resolve_config
from descend.diagnose.guard import DivergenceGuard
from descend.diagnose.health import HealthMonitor


def config():
    return resolve_config({"train": {"early_stopping_patience": 3, "ema_decay": 0.9},
                           "diagnose": {"monitor": True, "guard": True}, "log": {"tensorboard": True}})


def names(callbacks):
    return [type(cb).__name__ for cb in callbacks]


def test_a_follower_rank_keeps_the_callbacks_that_steer_training_and_writes_no_file(tmp_path):
    lead = build_callbacks(config(), tmp_path, progress=True, has_val=True)
    follower = build_callbacks(config(), tmp_path, progress=True, has_val=True, lead=False)
    assert names(lead) == ["TerminateOnNaN", "EarlyStopping", "ModelCheckpoint", "HistoryWriter", "HealthMonitor",
                           "DivergenceGuard", "EMA", "TensorBoard", "ProgressBar"]
    assert names(follower) == ["TerminateOnNaN", "EarlyStopping", "HealthMonitor", "DivergenceGuard", "EMA"]
    assert [names(lead)[i] for i, cb in enumerate(lead) if not cb.rank_zero_only] == names(follower)
    monitor = next(cb for cb in follower if isinstance(cb, HealthMonitor))
    guard = next(cb for cb in follower if isinstance(cb, DivergenceGuard))
    assert monitor.path is None and guard.checkpoint is None and guard.event_path is None
    lead_guard = next(cb for cb in lead if isinstance(cb, DivergenceGuard))
    assert lead_guard.checkpoint.startswith(str(tmp_path)) and lead_guard.event_path.startswith(str(tmp_path))


def test_build_callbacks_lead_must_be_a_bool(tmp_path):
    with pytest.raises(TypeError, match="lead must be True"):
        build_callbacks(config(), tmp_path, progress=False, lead=0)


def test_the_checkpoint_marks_which_callback_states_are_rank_zero_only(tmp_path):
    net = descend.nn.Linear(3, 2)
    trainer = descend.Trainer(net, descend.nn.MSELoss(), descend.optim.SGD(net.parameters(), lr=0.1), seed=0,
                              callbacks=[descend.train.EarlyStopping(monitor="loss", patience=2),
                                         descend.train.CSVLogger(tmp_path / "h.csv")])
    x = descend.random.default_generator().normal(size=(8, 3)).astype("float32")
    trainer.fit((x, x[:, :2]), epochs=1, checkpoint_dir=tmp_path)
    saved = descend.io.checkpoint.load(tmp_path / "last.safetensors")["callbacks"]
    assert [(c["class"], bool(c["rank_zero_only"])) for c in saved] == [("EarlyStopping", False),
                                                                        ("CSVLogger", True)]
