"""Drive ``descend.optim.ReduceLROnPlateau`` from the epoch logs."""

from __future__ import annotations

from .monitor import MonitorCallback


class ReduceLROnPlateau(MonitorCallback):
    """Each epoch, step a ``descend.optim.ReduceLROnPlateau`` scheduler with ``logs[monitor]``.

    Give an existing ``scheduler``, or the scheduler's settings (``factor``, ``patience``, ``threshold``,
    ``cooldown``, ``min_lr``) and the callback builds one on the trainer's optimiser when training
    begins. The rule (multiply the learning rate by ``factor`` after ``patience`` epochs without an
    improvement) is the scheduler's; this callback only feeds it the monitored value. Its state is the
    scheduler's ``state_dict()``, so it survives a resume.
    """

    def __init__(self, monitor: str = "val_loss", mode: str = "min", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, cooldown: int = 0, min_lr: float = 0.0, scheduler=None):
        super().__init__(monitor, mode)
        self.settings = dict(mode=mode, factor=factor, patience=patience, threshold=threshold,
                             cooldown=cooldown, min_lr=min_lr)
        self.scheduler = scheduler

    def on_train_begin(self, logs=None):
        if self.scheduler is None:
            from ...optim import ReduceLROnPlateau as Scheduler

            self.scheduler = Scheduler(self.trainer.optimizer, **self.settings)

    def on_epoch_end(self, epoch, logs=None):
        self.scheduler.step(self.current(logs))

    def state_dict(self) -> dict:
        return {} if self.scheduler is None else {"scheduler": self.scheduler.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        if "scheduler" in state:
            self.scheduler.load_state_dict(state["scheduler"])
