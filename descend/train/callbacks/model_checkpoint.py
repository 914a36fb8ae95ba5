"""Save the model's weights at the best epoch and/or after every epoch, each file written atomically."""

from __future__ import annotations

import os

from .monitor import MonitorCallback


class ModelCheckpoint(MonitorCallback):
    """Write the model's ``state_dict()`` to ``filepath``: only when ``monitor`` improves
    (``save_best_only=True``, the "best" file), or after every epoch (``save_best_only=False``, the
    "last" file). ``save_last`` optionally names a second file written after every epoch, so one
    callback keeps both best and last.

    Files are descend checkpoints (``model.load_state_dict(descend.io.load(path))``) written atomically,
    so a crash never leaves a half-written file. ``best``/``best_epoch`` survive a resume. For a
    checkpoint a run can *resume* from (optimiser, scheduler, generators...), pass ``checkpoint_dir=``
    to ``Trainer.fit``.
    """

    rank_zero_only = True   # writes files / the console; under MPI rank 0 alone runs it

    def __init__(self, filepath, monitor: str = "val_loss", mode: str = "min", save_best_only: bool = True,
                 min_delta: float = 0.0, save_last=None):
        super().__init__(monitor, mode, min_delta)
        self.filepath = os.fspath(filepath)
        self.save_best_only = bool(save_best_only)
        self.save_last = None if save_last is None else os.fspath(save_last)

    def on_epoch_end(self, epoch, logs=None):
        from ...io import checkpoint

        weights = None
        if self.save_best_only:
            value = self.current(logs)
            if self.improved(value):
                self.best, self.best_epoch = value, epoch
                weights = self.trainer.model.state_dict()
                checkpoint.save(weights, self.filepath)
        else:
            weights = self.trainer.model.state_dict()
            checkpoint.save(weights, self.filepath)
        if self.save_last is not None:
            checkpoint.save(weights if weights is not None else self.trainer.model.state_dict(), self.save_last)
