"""TensorBoard event files: scalars per epoch and per step, the learning rate, gradient-norm histograms and the
hyperparameters with the final metrics."""

from __future__ import annotations

import math
import os

import numpy as np

from .base import Callback


def _summary_writer():
    """tensorboardX's SummaryWriter (imported here only, so descend itself does not need it)."""
    try:
        from tensorboardX import SummaryWriter
    except ImportError:
        raise ImportError("the TensorBoard callback needs tensorboardX: pip install 'descend[logging]' "
                          "(or pip install tensorboardX tensorboard)") from None
    return SummaryWriter


def _scalar(value):
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool) \
        and math.isfinite(float(value))


class TensorBoard(Callback):
    """``TensorBoard(log_dir, hparams=None, flush_secs=10)``: write event files to ``log_dir`` (view them with
    ``tensorboard --logdir <log_dir>``).

    * per epoch, step = the epoch number: ``epoch/<name>`` for every finite logged number (``loss``,
      ``val_loss``, the metrics, ``lr``, ``time``);
    * per optimiser batch, step = the global batch count: ``step/loss`` and ``step/lr``;
    * when a health monitor runs among the trainer's callbacks (any callback whose ``records`` hold
      ``grad_norm`` rows, e.g. ``descend.diagnose.HealthMonitor``): ``health/grad_norm``, a histogram of the
      per-layer gradient norms at each sampled step;
    * at the end of training the hyperparameters ``hparams`` (a flat dict of numbers, strings and booleans)
      with the final epoch's metrics (``hparam/<name>``), in the ``hparams`` subfolder.

    The global step is part of the callback's state, so a resumed run continues the curves.
    """

    rank_zero_only = True   # writes files / the console; under MPI rank 0 alone runs it

    def __init__(self, log_dir, hparams: dict | None = None, flush_secs: int = 10):
        if hparams is not None and not isinstance(hparams, dict):
            raise TypeError(f"hparams must be a dict of name -> value, got {type(hparams).__name__}")
        self.log_dir = os.fspath(log_dir)
        self.hparams = dict(hparams or {})
        self.flush_secs = int(flush_secs)
        self.step = 0
        self._seen = 0
        self.writer = None
        self._last = {}

    def on_train_begin(self, logs=None):
        self.writer = _summary_writer()(self.log_dir, flush_secs=self.flush_secs)

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        if self.writer is not None and _scalar(logs.get("loss")):
            self.writer.add_scalar("step/loss", float(logs["loss"]), self.step)
            self.writer.add_scalar("step/lr", float(self.trainer.lr), self.step)
        self.step += 1

    def _health(self):
        for cb in self.trainer.callbacks:
            records = getattr(cb, "records", None)
            if isinstance(records, list) and records and isinstance(records[0], dict) \
                    and "grad_norm" in records[0]:
                return records
        return None

    def on_epoch_end(self, epoch, logs=None):
        if self.writer is None:
            return
        self._last = {k: float(v) for k, v in (logs or {}).items() if _scalar(v)}
        for name, value in self._last.items():
            self.writer.add_scalar(f"epoch/{name}", value, epoch)
        records = self._health()
        if records:
            by_step: dict = {}
            for r in records[self._seen:]:
                if r.get("grad_norm") is not None and math.isfinite(float(r["grad_norm"])):
                    by_step.setdefault(int(r["step"]), []).append(float(r["grad_norm"]))
            for step, norms in sorted(by_step.items()):
                self.writer.add_histogram("health/grad_norm", np.asarray(norms), step)
            self._seen = len(records)
        self.writer.flush()

    def on_train_end(self, logs=None):
        if self.writer is None:
            return
        hparams = {k: (v if isinstance(v, (int, float, str, bool)) else str(v)) for k, v in self.hparams.items()}
        if hparams and self._last:
            self.writer.add_hparams(hparams, {f"hparam/{k}": v for k, v in self._last.items()}, name="hparams")
        self.writer.close()
        self.writer = None

    def state_dict(self) -> dict:
        return {"step": int(self.step), "seen": int(self._seen)}

    def load_state_dict(self, state: dict) -> None:
        self.step = int(state["step"])
        self._seen = int(state["seen"])
