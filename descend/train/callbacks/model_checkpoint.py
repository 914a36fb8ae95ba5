"""Save the model's weights: the best epoch's and the last epoch's, each written atomically."""

from __future__ import annotations

import os

from .monitor import MonitorCallback


class ModelCheckpoint(MonitorCallback):
    """Write ``dirpath/best.safetensors`` whenever ``monitor`` improves (``mode`` 'min' or 'max') and
    ``dirpath/last.safetensors`` after every epoch (``save_last=False`` to skip it).

    Files hold the model's ``state_dict()`` in descend's checkpoint format (load them with
    ``model.load_state_dict(descend.io.load(path))``) and are written atomically, so a crash never
    leaves a half-written file. ``monitor=None`` keeps only ``last``. For a checkpoint a run can
    *resume* from (optimiser, scheduler, generators...), give the Trainer ``checkpoint_dir=``.
    """

    def __init__(self, dirpath, monitor: str | None = "val_loss", mode: str = "min", min_delta: float = 0.0,
                 save_last: bool = True):
        super().__init__(monitor or "", mode, min_delta)
        self.dirpath = os.fspath(dirpath)
        self.track_best = monitor is not None
        self.save_last = bool(save_last)
        if not self.track_best and not self.save_last:
            raise ValueError("ModelCheckpoint with monitor=None and save_last=False would save nothing")

    @property
    def best_path(self) -> str:
        return os.path.join(self.dirpath, "best.safetensors")

    @property
    def last_path(self) -> str:
        return os.path.join(self.dirpath, "last.safetensors")

    def on_epoch_end(self, epoch, logs=None):
        from ...io import checkpoint

        if self.track_best:
            value = self.current(logs)
            if self.improved(value):
                self.best, self.best_epoch = value, epoch
                checkpoint.save(self.trainer.model.state_dict(), self.best_path)
        if self.save_last:
            checkpoint.save(self.trainer.model.state_dict(), self.last_path)
