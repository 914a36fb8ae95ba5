"""The callbacks a config asks for: NaN stop, early stopping, the best checkpoint, the history file, the
training-health monitor and divergence guard (``[diagnose]``), the weight average (``train.ema_decay``), the
TensorBoard and MLflow loggers (``[log]``), and the progress bar."""

from __future__ import annotations

from pathlib import Path

from .. import train
from ..diagnose.guard import EVENT_FILE, DivergenceGuard
from ..diagnose.health import HEALTH_FILE, HealthMonitor
from ..train.callbacks.base import Callback
from .run_folder import BEST_CHECKPOINT, CHECKPOINT_DIR, HISTORY_FILE, LAST_GOOD_CHECKPOINT, write_history

__all__ = ["HistoryWriter", "build_callbacks", "TENSORBOARD_DIR"]

TENSORBOARD_DIR = "tensorboard"


class HistoryWriter(Callback):
    """Rewrites the run folder's ``history.csv`` atomically after every epoch (a crash loses no finished
    epoch)."""

    rank_zero_only = True   # under MPI rank 0 alone writes the run folder

    def __init__(self, path):
        self.path = Path(path)

    def on_epoch_end(self, epoch, logs=None):
        history = getattr(self.trainer, "history", None)
        if history is not None and history.epochs:
            write_history(history, self.path)


def build_callbacks(cfg: dict, out, progress: bool, has_val: bool = True, lead: bool = True) -> list:
    """The callbacks of a run writing to the folder ``out``, in the order the trainer calls them.

    ``lead=False`` gives those of a data-parallel process other than rank 0: the same callbacks that steer
    training (NaN stop, early stopping, the health monitor and divergence guard, keeping their records in
    memory; the weight average), none that only reports (the best checkpoint, the history file,
    TensorBoard, MLflow, the progress bar: ``rank_zero_only``), and no file written."""
    if not isinstance(lead, bool):
        raise TypeError(f"build_callbacks: lead must be True (rank 0 or one process) or False, got {lead!r}")
    out = Path(out)
    callbacks = [train.TerminateOnNaN()]
    patience = cfg["train"]["early_stopping_patience"]
    if patience:
        callbacks.append(train.EarlyStopping(monitor="val_loss", mode="min", patience=patience,
                                             restore_best_weights=True))
    if has_val and lead:   # best.safetensors: the weights of the lowest val_loss (last.safetensors is the trainer's)
        callbacks.append(train.ModelCheckpoint(out / CHECKPOINT_DIR / BEST_CHECKPOINT, monitor="val_loss",
                                               mode="min", save_best_only=True))
    if lead:
        callbacks.append(HistoryWriter(out / HISTORY_FILE))
    diag = cfg.get("diagnose", {})
    if diag.get("monitor"):   # training health (descend.diagnose)
        callbacks.append(HealthMonitor(every=diag["every"], path=out / HEALTH_FILE if lead else None))
    if diag.get("guard"):     # on every rank it rolls back and stops alike; rank 0 alone writes its files
        callbacks.append(DivergenceGuard(checkpoint=out / CHECKPOINT_DIR / LAST_GOOD_CHECKPOINT if lead else None,
                                         event_path=out / EVENT_FILE if lead else None))
    ema = cfg["train"].get("ema_decay", 0.0)
    if ema:                 # after EarlyStopping: the average is what the run keeps
        callbacks.append(train.EMA(decay=ema))
    log = cfg.get("log", {}) if lead else {}
    if log.get("tensorboard") or log.get("mlflow"):
        from .config import flatten

        params = {k: (v if isinstance(v, (int, float, str, bool)) else str(v)) for k, v in flatten(cfg).items()}
        if log.get("tensorboard"):
            callbacks.append(train.TensorBoard(out / TENSORBOARD_DIR, hparams=params))
        if log.get("mlflow"):
            callbacks.append(train.MLflowLogger(log["mlflow"], run_name=out.name, params=params))
    if progress and lead:
        callbacks.append(train.ProgressBar())
    return callbacks
