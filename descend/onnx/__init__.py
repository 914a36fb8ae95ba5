"""Model exchange with ONNX: ``export(model, example_input, path, ...)`` (the shape of ``torch.onnx.export``).

Needs the optional ``onnx`` package (``pip install descend[onnx]``); ``import descend`` never imports it —
only ``import descend.onnx`` does. ``load(path)`` reads a file back as a descend module (:class:`OnnxModule`).
See docs/export.md for the ops covered.
"""

try:
    import onnx as _onnx  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("descend.onnx needs the onnx package: pip install 'descend[onnx]' (or pip install onnx)") \
        from exc

from .export import DEFAULT_OPSET, build_model_proto, converter_for, export
from .graph import Constant, ExportError
from .load import OnnxModule, load
from .preprocess import Standardize

__all__ = ["export", "build_model_proto", "converter_for", "ExportError", "Constant", "DEFAULT_OPSET", "Standardize",
           "load", "OnnxModule"]
