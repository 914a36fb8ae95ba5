"""DivergenceGuard: stop training at the first diverging batch and keep the last good weights.

A batch *diverges* when its loss is NaN or ±inf, or when the exponentially smoothed loss
``s_t = β s_{t−1} + (1 − β) L_t`` (bias-corrected: ``ŝ_t = s_t / (1 − β^t)``) rises above
``factor × best ŝ`` after ``warmup`` steps (the range test's 4× rule, applied to training).

The guard keeps, in memory, a copy of the weights taken every ``every`` steps (and at the start); a copy
becomes the *last good* one once the next batch's loss, computed with those weights, passed the check. On divergence it sets ``trainer.stop_training`` (the loop stops after
that batch), puts those last good weights back into the model, writes them to ``checkpoint`` (when
given) and fills ``event`` with the step, the loss, the reason, the checkpoint and a suggested learning
rate: the range test's suggestion when ``suggested_lr`` is given, else a tenth of the current rate.
"""

from __future__ import annotations

import math
import os
import sys

import numpy as np

from ..train.callbacks.base import Callback

EVENT_FILE = "divergence.json"


class DivergenceGuard(Callback):
    """``DivergenceGuard(factor=4.0, beta=0.9, warmup=1, every=10, checkpoint=None, event_path=None,
    suggested_lr=None)`` — see the module docstring."""

    def __init__(self, factor: float = 4.0, beta: float = 0.9, warmup: int = 1, every: int = 10,
                 checkpoint=None, event_path=None, suggested_lr: float | None = None):
        if not (isinstance(factor, (int, float)) and factor > 1):
            raise ValueError(f"factor must be a number > 1 (times the best smoothed loss), got {factor!r}")
        if not (isinstance(beta, (int, float)) and 0 <= beta < 1):
            raise ValueError(f"beta must be in [0, 1) (the smoothing of the loss), got {beta!r}")
        for name, v in (("warmup", warmup), ("every", every)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < (0 if name == "warmup" else 1):
                raise ValueError(f"{name} must be an integer >= {0 if name == 'warmup' else 1}, got {v!r}")
        self.factor, self.beta, self.warmup, self.every = float(factor), float(beta), int(warmup), int(every)
        self.checkpoint = None if checkpoint is None else os.fspath(checkpoint)
        self.event_path = None if event_path is None else os.fspath(event_path)
        self.suggested_lr = suggested_lr
        self.event = None

    def on_train_begin(self, logs=None):
        self.event = None
        self._avg, self._t, self._best = 0.0, 0, math.inf
        self._epoch = self.trainer.start_epoch
        self._good, self._good_step = self._snapshot(), 0
        self._pending = None

    def _snapshot(self):
        return {k: np.array(v, copy=True) for k, v in self.trainer.model.state_dict().items()}

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = float((logs or {}).get("loss", float("nan")))
        step = self._t
        self._t += 1
        reason = None
        if not math.isfinite(loss):
            reason = f"the batch loss is {loss}"
        else:
            self._avg = self.beta * self._avg + (1 - self.beta) * loss
            smooth = self._avg / (1 - self.beta ** self._t)
            if self._t > self.warmup and smooth > self.factor * self._best and self._best > 0:
                reason = (f"the smoothed loss {smooth:.4g} rose above {self.factor:g}x its best "
                          f"{self._best:.4g}")
            self._best = min(self._best, smooth)
        if reason is None:
            if self._pending is not None:       # those weights have now given a good loss: promote them
                self._good, self._good_step = self._pending
                self._pending = None
            if self._t % self.every == 0:
                weights = self._snapshot()
                if all(np.isfinite(w).all() for w in weights.values() if np.issubdtype(w.dtype, np.floating)):
                    self._pending = (weights, self._t)
            return
        self._diverged(step, batch, loss, reason)

    def _diverged(self, step, batch, loss, reason):
        trainer = self.trainer
        trainer.stop_training = True
        lr = float(trainer.lr)
        suggested = float(self.suggested_lr) if self.suggested_lr else lr / 10
        trainer.model.load_state_dict(self._good)
        if self.checkpoint is not None:
            from ..io import checkpoint
            checkpoint.save(self._good, self.checkpoint)
        self.event = {"diverged": True, "epoch": int(self._epoch), "batch": int(batch), "step": int(step),
                      "loss": loss if math.isfinite(loss) else str(loss), "best_smoothed_loss": self._best,
                      "reason": reason, "lr": lr, "suggested_lr": suggested,
                      "suggested_lr_source": "lr range test" if self.suggested_lr else "a tenth of the current lr",
                      "good_step": int(self._good_step), "checkpoint": self.checkpoint}
        if self.event_path is not None:
            from ..io import atomic_write_json
            atomic_write_json(self.event_path, self.event)
        where = f" and saved to {self.checkpoint}" if self.checkpoint else ""
        print(file=sys.stderr)
        advice = (f"Try lr = {suggested:.3g} (now {lr:.3g})" if self.suggested_lr or suggested < 1 else
                  f"lr = {lr:.3g} is far above usual rates: find one with `descend lr-find`")   # 1e5 after 1e6 misleads
        print(f"descend: training diverged at epoch {self._epoch + 1}, batch {batch + 1} ({reason}); stopped. "
              f"The weights of step {self._good_step} were restored{where}. {advice} "
              f"and/or set train.clip_grad_norm = 1.0.", file=sys.stderr)
