"""The callback interface: hooks the training loop calls, each doing nothing by default."""

from __future__ import annotations


class Callback:
    """Base class for callbacks (Keras-shaped).

    Override the hooks you need. The trainer sets ``self.trainer`` before training, so a hook can read
    ``self.trainer.model``, ``self.trainer.optimizer`` or stop training with
    ``self.trainer.stop_training = True``. ``logs`` is a dict of floats: per batch ``loss`` and ``size``;
    per epoch ``loss``, the metrics, their ``val_`` versions, ``lr`` and ``time``.

    A callback with state that must survive a resume (counters, best values) returns it from
    ``state_dict()`` and takes it back in ``load_state_dict()``.

    ``rank_zero_only = True`` marks a callback that only reports (writes files, the console, a tracking
    server) and whose state does not steer training: under data parallelism (MPI, several processes) the
    trainer calls it on rank 0 alone, and the other ranks may leave it out (they resume from rank 0's
    checkpoint without it).
    """

    trainer = None
    rank_zero_only = False

    def set_trainer(self, trainer) -> None:
        self.trainer = trainer

    @property
    def model(self):
        return None if self.trainer is None else self.trainer.model

    def on_train_begin(self, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_train_batch_begin(self, batch, logs=None):
        pass

    def on_train_batch_end(self, batch, logs=None):
        pass

    def on_after_backward(self, trainer):
        """Called after ``loss.backward()`` and before clipping and the optimiser step: gradients are fresh."""

    def on_after_step(self, trainer):
        """Called right after each ``optimizer.step()`` (once per ``accumulate_batches`` batches)."""

    def on_evaluate_begin(self, trainer):
        """Called before ``trainer.evaluate`` / ``trainer.predict`` (validation included) runs the model."""

    def on_evaluate_end(self, trainer):
        """Called after ``trainer.evaluate`` / ``trainer.predict``, also when it raised."""

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass
