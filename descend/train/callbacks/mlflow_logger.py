"""MLflow tracking: parameters, metrics per epoch and the run folder as artifacts."""

from __future__ import annotations

import math
import os

import numpy as np

from .base import Callback


def _client(uri):
    try:
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise ImportError("the MLflowLogger callback needs MLflow: pip install 'descend[logging]' "
                          "(or pip install mlflow-skinny)") from None
    return MlflowClient(tracking_uri=uri)


def _finite(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool) \
        and math.isfinite(float(value))


class MLflowLogger(Callback):
    """``MLflowLogger(tracking_uri, experiment='descend', run_name=None, params=None, artifact_dir=None)``: one
    MLflow run per training.

    ``tracking_uri``: any MLflow tracking URI (``sqlite:///mlflow.db``, ``file:./mlruns``, ``http://host:5000``).
    At the start the run is created (in ``experiment``, made if missing) with ``params`` (a flat dict) as its
    parameters; after every epoch each finite logged number is a metric at step = epoch; at the end the
    folder ``artifact_dir`` (if given) is uploaded as artifacts and the run is ended (status ``FINISHED``, or
    ``KILLED`` after an interruption). :meth:`log_run_folder` uploads a folder (and final metrics) later, as
    ``descend train`` does once its report is written. ``run_id`` is the MLflow run's id; a resumed training
    continues the same run.
    """

    rank_zero_only = True   # writes files / the console; under MPI rank 0 alone runs it

    def __init__(self, tracking_uri: str, experiment: str = "descend", run_name: str | None = None,
                 params: dict | None = None, artifact_dir=None):
        if not isinstance(tracking_uri, str) or not tracking_uri:
            raise ValueError(f"tracking_uri must be an MLflow tracking URI such as 'sqlite:///mlflow.db', got "
                             f"{tracking_uri!r}")
        if params is not None and not isinstance(params, dict):
            raise TypeError(f"params must be a dict of name -> value, got {type(params).__name__}")
        self.tracking_uri = tracking_uri
        self.experiment = str(experiment)
        self.run_name = run_name
        self.params = dict(params or {})
        self.artifact_dir = None if artifact_dir is None else os.fspath(artifact_dir)
        self.run_id = None
        self.client = None

    def on_train_begin(self, logs=None):
        self.client = _client(self.tracking_uri)
        if self.run_id is None and getattr(self.trainer, "start_epoch", 0) == 0:
            self._new_run()       # a resumed run gets its run id from the checkpoint (load_state_dict)

    def _new_run(self):
        exp = self.client.get_experiment_by_name(self.experiment)
        exp_id = exp.experiment_id if exp is not None else self.client.create_experiment(self.experiment)
        self.run_id = self.client.create_run(exp_id, run_name=self.run_name).info.run_id
        for key, value in self.params.items():
            self.client.log_param(self.run_id, key, str(value)[:6000])

    def load_state_dict(self, state: dict) -> None:
        self.run_id = state.get("run_id") or None
        if self.run_id and self.client is not None:
            self.client.update_run(self.run_id, status="RUNNING")

    def state_dict(self) -> dict:
        return {"run_id": self.run_id or ""}

    def on_epoch_end(self, epoch, logs=None):
        if self.run_id is None:
            self._new_run()
        for key, value in (logs or {}).items():
            if _finite(value):
                self.client.log_metric(self.run_id, key, float(value), step=int(epoch))

    def log_run_folder(self, folder=None, metrics: dict | None = None) -> None:
        """Upload ``folder`` (default ``artifact_dir``) as the run's artifacts and log ``metrics`` (final
        values such as ``test_accuracy``)."""
        client = self.client or _client(self.tracking_uri)
        for key, value in (metrics or {}).items():
            if _finite(value):
                client.log_metric(self.run_id, key, float(value))
        folder = folder if folder is not None else self.artifact_dir
        if folder is not None and os.path.isdir(folder):
            client.log_artifacts(self.run_id, os.fspath(folder))

    def on_train_end(self, logs=None):
        if self.client is None or self.run_id is None:
            return
        interrupted = bool(getattr(getattr(self.trainer, "history", None), "interrupted", False))
        if self.artifact_dir is not None:
            self.log_run_folder()
        self.client.set_terminated(self.run_id, status="KILLED" if interrupted else "FINISHED")
