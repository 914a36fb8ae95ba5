"""Training: the Trainer loop, History, metrics, callbacks and plots."""

from . import callbacks, metrics
from .callbacks import (EMA, Callback, CSVLogger, EarlyStopping, JSONLinesLogger, MLflowLogger, ModelCheckpoint,
                        MonitorCallback, ProgressBar, ReduceLROnPlateau, TensorBoard, TerminateOnNaN)
from .history import History
from .metrics import (Accuracy, ConfusionMatrix, F1Score, MeanAbsoluteError, MeanSquaredError, Metric, Precision,
                      R2Score, Recall, TopKAccuracy, get_metric, top_k_accuracy)
from .plots import plot_history
from .trainer import Trainer

__all__ = ["Trainer", "History", "Callback", "CSVLogger", "EarlyStopping", "JSONLinesLogger", "ModelCheckpoint",
           "MonitorCallback", "ProgressBar", "ReduceLROnPlateau", "TerminateOnNaN", "EMA", "TensorBoard",
           "MLflowLogger", "Metric", "Accuracy",
           "TopKAccuracy", "top_k_accuracy", "Precision", "Recall", "F1Score", "ConfusionMatrix",
           "MeanSquaredError", "MeanAbsoluteError", "R2Score", "get_metric", "plot_history", "callbacks",
           "metrics"]
