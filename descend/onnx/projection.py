"""LSTM with ``proj_size`` (placeholder)."""

from .graph import ExportError


def lstm_projected(g, m, x, h0, c0, batched, path):
    raise ExportError(f"{path} (LSTM): proj_size={m.proj_size} has no ONNX export")
