"""Stop training when a monitored value stops improving, and go back to the best weights."""

from __future__ import annotations

from .monitor import MonitorCallback


class EarlyStopping(MonitorCallback):
    """Stop when ``monitor`` has not improved for ``patience`` epochs in a row.

    Improvement means ``value < best − min_delta`` (``mode='min'``) or ``value > best + min_delta``
    (``mode='max'``). With ``restore_best_weights=True`` (the default) the model gets the weights of
    the best epoch back at the end of training, whatever ended it: this callback, another one, or the
    last epoch. ``best``, ``best_epoch``, ``stopped_epoch`` (None when it did not stop training) are kept;
    all of them, the wait counter and the best weights survive a checkpoint/resume.
    """

    def __init__(self, monitor: str = "val_loss", mode: str = "min", patience: int = 5, min_delta: float = 0.0,
                 restore_best_weights: bool = True):
        super().__init__(monitor, mode, min_delta)
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(f"patience must be an integer >= 0 (epochs without improvement), got {patience!r}")
        self.patience = patience
        self.restore_best_weights = bool(restore_best_weights)
        self.wait = 0
        self.stopped_epoch = None
        self.best_weights = None

    def on_train_begin(self, logs=None):
        self.__init__(self.monitor, self.mode, self.patience, self.min_delta, self.restore_best_weights)

    def on_epoch_end(self, epoch, logs=None):
        value = self.current(logs)
        if self.improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_weights = self.trainer.model.state_dict()  # copies
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            self.trainer.stop_training = True

    def on_train_end(self, logs=None):
        if self.restore_best_weights and self.best_weights is not None:
            self.trainer.model.load_state_dict(self.best_weights)

    def state_dict(self) -> dict:
        return {**super().state_dict(), "wait": self.wait,
                "stopped_epoch": -1 if self.stopped_epoch is None else self.stopped_epoch,
                "best_weights": None if self.best_weights is None else dict(self.best_weights)}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.wait = int(state["wait"])
        self.stopped_epoch = None if int(state["stopped_epoch"]) < 0 else int(state["stopped_epoch"])
        self.best_weights = state["best_weights"]
