"""``descend export RUN_DIR --format onnx [--output FILE] [--opset N]``: a trained run's model as ONNX."""

from __future__ import annotations

from ..app import load_run


def add_parser(sub) -> None:
    p = sub.add_parser("export", help="export a trained run's model (ONNX)",
                       description="Write a run's final model as an ONNX file (eval mode, symbolic batch "
                                   "dimension). When the run standardised its inputs, the standardisation is "
                                   "part of the graph, so the file takes the same raw inputs as `descend "
                                   "predict`. Needs the onnx package (pip install 'descend[onnx]').")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run folder written by `descend train`")
    p.add_argument("--format", required=True, choices=("onnx",), help="the exchange format (onnx)")
    p.add_argument("--output", "-o", metavar="FILE", help="where to write (default: RUN_DIR/model.onnx)")
    p.add_argument("--opset", type=int, default=None, help="ONNX opset version (default 17)")
    p.set_defaults(handler=run)


def export_run(run_dir, output=None, opset_version=None):
    """Export the model of ``run_dir`` (with its input standardisation) to ``output``; returns the path."""
    from pathlib import Path

    import numpy as np
    try:
        from .. import onnx as donnx
    except ImportError as exc:
        raise ValueError(f"{exc}") from None
    from ..nn import Sequential
    _, model, meta = load_run(run_dir)
    if meta.get("standardizer"):
        s = meta["standardizer"]
        model = Sequential(donnx.Standardize(s["mean"], s["std"]), model)
    example = np.zeros((2, *meta["input_shape"]), dtype=np.float32)
    path = Path(output) if output else Path(run_dir) / "model.onnx"
    donnx.export(model, example, path, opset_version=opset_version)
    return path


def run(args) -> int:
    print(export_run(args.run_dir, args.output, args.opset))
    return 0
