"""Callbacks: hooks into the training loop, one per file (Keras-shaped)."""

from .base import Callback
from .csv_logger import CSVLogger
from .early_stopping import EarlyStopping
from .ema import EMA
from .jsonl_logger import JSONLinesLogger
from .mlflow_logger import MLflowLogger
from .model_checkpoint import ModelCheckpoint
from .monitor import MonitorCallback
from .progress_bar import ProgressBar
from .reduce_lr_on_plateau import ReduceLROnPlateau
from .tensorboard import TensorBoard
from .terminate_on_nan import TerminateOnNaN

__all__ = ["Callback", "CSVLogger", "EarlyStopping", "EMA", "JSONLinesLogger", "MLflowLogger", "ModelCheckpoint",
           "MonitorCallback", "ProgressBar", "ReduceLROnPlateau", "TensorBoard", "TerminateOnNaN"]
