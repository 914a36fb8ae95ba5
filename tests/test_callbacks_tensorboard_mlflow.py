"""TensorBoard and MLflow logging: what is written is read back with TensorBoard's EventAccumulator and
MLflow's MlflowClient over its SQLite store."""

import glob
import os

import numpy as np
import pytest

from descend.diagnose import HealthMonitor
from descend.nn.linear import Linear
from descend.nn.loss import CrossEntropyLoss
from descend.nn.module import Module
from descend.optim import SGD
from descend.train import MLflowLogger, TensorBoard, Trainer

pytest.importorskip("tensorboardX")
event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")


class Net(Module):
    def __init__(self):
        super().__init__()
        self.fc1 = Linear(4, 8)
        self.fc2 = Linear(8, 2)

    def forward(self, x):
        return self.fc2(self.fc1(x).relu())


def data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 4)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(np.int64)


def read(folder):
    acc = event_accumulator.EventAccumulator(str(folder), size_guidance={"scalars": 0, "histograms": 0,
                                                                         "tensors": 0})
    acc.Reload()
    return acc


def test_tensorboard_writes_epoch_and_step_scalars_lr_histograms_and_hparams(tmp_path):
    x, y = data()
    tb = TensorBoard(tmp_path / "tb", hparams={"lr": 0.1, "model": "mlp"})
    t = Trainer(Net, CrossEntropyLoss(), lambda p: SGD(p, lr=0.1), seed=0, batch_size=10, metrics=["accuracy"],
                callbacks=[HealthMonitor(every=2), tb])
    t.fit((x, y), val_data=(x, y), epochs=3)
    acc = read(tmp_path / "tb")
    tags = acc.Tags()
    epoch_loss = [e.value for e in acc.Scalars("epoch/loss")]
    np.testing.assert_allclose(epoch_loss, t.history.history["loss"], rtol=1e-6)
    np.testing.assert_allclose([e.value for e in acc.Scalars("epoch/val_accuracy")],
                               t.history.history["val_accuracy"], rtol=1e-6)
    assert [e.step for e in acc.Scalars("step/loss")] == list(range(12))      # 4 batches x 3 epochs
    np.testing.assert_allclose([e.value for e in acc.Scalars("step/lr")], np.full(12, 0.1), rtol=1e-6)
    hist = acc.Histograms("health/grad_norm")
    assert [h.step for h in hist] == [0, 2, 4, 6, 8, 10] and "health/grad_norm" in tags["histograms"]
    assert all(h.histogram_value.num == 2 for h in hist)                      # two layers own parameters
    hp = read(tmp_path / "tb" / "hparams")
    from tensorboard.plugins.hparams import plugin_data_pb2

    content = hp.PluginTagToContent("hparams")
    start = [plugin_data_pb2.HParamsPluginData.FromString(c) for c in content.values()]
    info = next(s.session_start_info for s in start if s.HasField("session_start_info"))
    assert info.hparams["lr"].number_value == pytest.approx(0.1) and info.hparams["model"].string_value == "mlp"
    final = [e.value for e in hp.Scalars("hparam/val_loss")]
    assert final == [pytest.approx(t.history.history["val_loss"][-1], rel=1e-6)]


def test_mlflow_logger_logs_params_metrics_and_artifacts_to_sqlite(tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    monkeypatch.chdir(tmp_path)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "notes.txt").write_text("hello")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    x, y = data()
    logger = MLflowLogger(uri, experiment="exp", run_name="r1", params={"lr": 0.1, "batch_size": 10},
                          artifact_dir=tmp_path / "run")
    t = Trainer(Net, CrossEntropyLoss(), lambda p: SGD(p, lr=0.1), seed=0, batch_size=10, callbacks=[logger])
    t.fit((x, y), val_data=(x, y), epochs=3)
    client = MlflowClient(tracking_uri=uri)
    run = client.get_run(logger.run_id)
    assert run.info.status == "FINISHED" and run.info.run_name == "r1"
    assert run.data.params == {"lr": "0.1", "batch_size": "10"}
    hist = client.get_metric_history(logger.run_id, "val_loss")
    assert [m.step for m in hist] == [0, 1, 2]
    np.testing.assert_allclose([m.value for m in hist], t.history.history["val_loss"], rtol=1e-6)
    assert [a.path for a in client.list_artifacts(logger.run_id)] == ["notes.txt"]
    with pytest.raises(ValueError, match="tracking_uri must be an MLflow tracking URI"):
        MLflowLogger("")


def test_config_log_keys_write_tensorboard_and_mlflow_for_a_run(tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    from descend.app import run_training

    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    r = run_training({"data": {"subset": 200}, "model": {"preset": "mlp", "hidden": [16]},
                      "train": {"epochs": 2}, "log": {"tensorboard": True, "mlflow": uri},
                      "diagnose": {"every": 5}}, out=tmp_path / "run", progress=False)
    acc = read(tmp_path / "run" / "tensorboard")
    assert len(acc.Scalars("epoch/val_loss")) == 2 and acc.Histograms("health/grad_norm")
    client = MlflowClient(tracking_uri=uri)
    (run,) = client.search_runs([client.get_experiment_by_name("descend").experiment_id])
    assert run.data.params["optimizer.lr"] == "0.003" and run.data.params["model.preset"] == "mlp"
    assert run.data.metrics["test_accuracy"] == pytest.approx(r.summary["test_accuracy"])
    paths = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"report.html", "summary.json", "config.toml", "model.safetensors"} <= paths
    assert glob.glob(os.path.join(tmp_path, "run", "tensorboard", "events.out.tfevents.*"))
