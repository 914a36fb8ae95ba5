"""The pruning hook: a training callback that reports a validation metric to an Optuna trial.

After every epoch it calls ``trial.report(logs[metric], epoch)``; when the study's pruner answers
``trial.should_prune()`` it sets the trainer's stop flag (training ends cleanly after this epoch, the run
folder is still written) and remembers it, so the objective raises ``optuna.TrialPruned`` afterwards.
"""

from __future__ import annotations

import math

from ..train.callbacks.base import Callback


class PruningCallback(Callback):
    """Report ``metric`` (e.g. ``"val_loss"``) to ``trial`` each epoch and stop training when pruned."""

    def __init__(self, trial, metric: str = "val_loss"):
        self.trial = trial
        self.metric = metric
        self.pruned_at = None          # the epoch (0-based) after which the pruner stopped the trial

    @property
    def pruned(self) -> bool:
        return self.pruned_at is not None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.metric not in logs:
            raise KeyError(f"tune.metric {self.metric!r} is not logged by training; the epoch logs have "
                           f"{', '.join(sorted(logs)) or 'nothing'}")
        value = float(logs[self.metric])
        if not math.isfinite(value):
            return                     # a NaN/inf run ends via TerminateOnNaN; the objective fails it
        self.trial.report(value, epoch)
        if self.trial.should_prune():
            self.pruned_at = epoch
            self.trainer.stop_training = True
