"""Stop training at the first batch whose loss is NaN or infinite."""

from __future__ import annotations

import math

from .base import Callback


class TerminateOnNaN(Callback):
    """Set ``trainer.stop_training`` as soon as a batch loss is NaN or ±inf; the loop stops after that batch.

    ``terminated_at`` holds ``(epoch, batch)`` of the bad batch (None otherwise).
    """

    def __init__(self):
        self.terminated_at = None
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            self.terminated_at = (self._epoch, batch)
            self.trainer.stop_training = True
