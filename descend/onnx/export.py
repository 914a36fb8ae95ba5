"""``descend.onnx.export``: write a descend model as an ONNX file, in the shape of ``torch.onnx.export``.

Design: the exporter walks the module tree, not the autograd graph. Each module class with an export has a
converter (:data:`descend.onnx.layers.CONVERTERS`, :data:`descend.onnx.sequence.CONVERTERS`) that appends
the ONNX nodes for that layer in eval mode; containers (Sequential, Residual) convert their children in
order. The example input is run through each layer as it is converted, so every layer sees its real input
shape. A module whose class has no converter (or a subclass that overrides ``forward``) stops the export
with a one-line :class:`ExportError` naming its path, e.g. ``model.3 (MyLayer)``; nothing is written then.
The graph is checked with ``onnx.checker.check_model(full_check=True)`` before it is written atomically.
"""

from __future__ import annotations

import io
import os

import numpy as np

from .graph import ExportError, GraphBuilder, Value, value_info
from . import layers, preprocess, sequence

DEFAULT_OPSET = 17


def converter_for(module):
    """The converter of ``module``'s class, or of its nearest exported base class when it keeps the base's
    ``forward``; None when there is none."""
    table = {**layers.CONVERTERS, **sequence.CONVERTERS, **preprocess.CONVERTERS}
    for cls in type(module).__mro__:
        if cls in table:
            return table[cls] if type(module).forward is cls.forward else None
    return None


def _convert(g):
    def convert(module, x, path):
        fn = converter_for(module)
        if fn is None:
            raise ExportError(f"{path} ({type(module).__name__}) has no ONNX export; supported layers are listed "
                              "in docs/export.md")
        return fn(g, module, x, path, convert)
    return convert


def _axes(spec, name, ndim) -> dict:
    if spec is None:
        return {}
    if isinstance(spec, dict):
        axes = {int(k): str(v) for k, v in spec.items()}
    elif isinstance(spec, (list, tuple)):
        axes = {int(k): f"{name}_dim{int(k)}" for k in spec}
    else:
        raise TypeError(f"dynamic_axes[{name!r}] must be a list of axes or a dict axis -> name, got {spec!r}")
    bad = [k for k in axes if not 0 <= k < ndim]
    if bad:
        raise ValueError(f"dynamic_axes[{name!r}]: axis {bad[0]} is out of range for a {ndim}-D tensor")
    return axes


def _check_args(model, example_input, input_names, output_names, opset_version):
    from ..nn import Module
    import onnx
    if not isinstance(model, Module):
        raise TypeError(f"export needs a descend.nn.Module, got {type(model).__name__}")
    x = np.asarray(getattr(example_input, "data", example_input))
    if x.dtype.kind not in "fiu" or x.ndim == 0:
        raise TypeError(f"example_input must be a non-scalar numeric Tensor or array, got dtype {x.dtype} and "
                        f"shape {x.shape}")
    opset = DEFAULT_OPSET if opset_version is None else opset_version
    newest = onnx.defs.onnx_opset_version()
    if isinstance(opset, bool) or not isinstance(opset, int) or not DEFAULT_OPSET <= opset <= newest:
        raise ValueError(f"opset_version must be an int in [{DEFAULT_OPSET}, {newest}], got {opset_version!r}")
    for what, names in (("input_names", input_names), ("output_names", output_names)):
        if names is not None and (isinstance(names, str) or len(names) != 1
                                  or not all(isinstance(n, str) and n for n in names)):
            raise ValueError(f"{what} must be a list of one non-empty name (the model has one {what[:-6]}), "
                             f"got {names!r}")
    return x, opset


def build_model_proto(model, example_input, input_names=None, output_names=None, dynamic_axes=None,
                      opset_version=None):
    """The checked ``onnx.ModelProto`` of ``model`` (see :func:`export`), without writing it."""
    import onnx
    from onnx import helper
    x, opset = _check_args(model, example_input, input_names, output_names, opset_version)
    in_name = input_names[0] if input_names else "input"
    out_name = output_names[0] if output_names else "output"
    if in_name == out_name:
        raise ValueError(f"input and output names must differ, both are {in_name!r}")
    float_dtype = x.dtype if x.dtype.kind == "f" else next((p.data.dtype for p in model.parameters()), np.float32)
    g = GraphBuilder(opset, float_dtype)
    g.fresh(in_name)
    g.fresh(out_name)
    was_training = model.training
    model.eval()
    try:
        out = _convert(g)(model, Value(in_name, x), "model")
    finally:
        model.train(was_training)
    if not isinstance(out.example, np.ndarray):
        raise ExportError(f"model ({type(model).__name__}) returns {type(out.example).__name__}; export needs "
                          "one output tensor")
    g.node("Identity", [out.name], "output")
    g.nodes[-1].output[0] = out_name
    if dynamic_axes is None:
        in_axes, out_axes = {0: "batch"}, ({0: "batch"} if out.example.ndim else {})
        in_axes = sequence.default_axes(model, in_axes)
        out_axes = sequence.default_axes(model, out_axes) if out_axes else out_axes
    else:
        if not isinstance(dynamic_axes, dict):
            raise TypeError(f"dynamic_axes must be a dict name -> axes, got {type(dynamic_axes).__name__}")
        unknown = set(dynamic_axes) - {in_name, out_name}
        if unknown:
            raise ValueError(f"dynamic_axes names {sorted(unknown)} are neither the input {in_name!r} nor the "
                             f"output {out_name!r}")
        in_axes = _axes(dynamic_axes.get(in_name), in_name, x.ndim)
        out_axes = _axes(dynamic_axes.get(out_name), out_name, out.example.ndim)
    graph = helper.make_graph(g.nodes, type(model).__name__, [value_info(in_name, x, in_axes)],
                              [value_info(out_name, out.example, out_axes)], initializer=g.initializers)
    proto = helper.make_model(graph, producer_name="descend", opset_imports=[helper.make_opsetid("", opset)])
    proto.ir_version = min(proto.ir_version, 10)
    try:
        onnx.checker.check_model(proto, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ExportError(f"model ({type(model).__name__}): the ONNX graph fails the checker: {first}") from None
    return proto


def export(model, example_input, path, input_names=None, output_names=None, dynamic_axes=None,
           opset_version=None):
    """Write ``model`` (eval-mode semantics) as ONNX to ``path`` (a file name, written atomically, or a binary
    file object), traced on ``example_input`` (a Tensor or array with a batch dimension).

    ``input_names`` / ``output_names``: one name each (default ``input`` / ``output``). ``dynamic_axes``
    (as in ``torch.onnx.export``): ``{name: [axis, ...]}`` or ``{name: {axis: dim_name}}``; the default
    makes axis 0 a symbolic ``batch`` dimension (for a time-major recurrent model: axis 0 ``seq`` and 1
    ``batch``). ``opset_version`` defaults to 17 (the first with LayerNormalization). Returns ``path``.
    Raises :class:`ExportError` naming the layer path when a layer has no export.
    """
    proto = build_model_proto(model, example_input, input_names, output_names, dynamic_axes, opset_version)
    data = proto.SerializeToString()
    if isinstance(path, (str, os.PathLike)):
        from ..io import atomic_write_bytes
        atomic_write_bytes(path, data)
    elif isinstance(path, io.IOBase) or hasattr(path, "write"):
        path.write(data)
    else:
        raise TypeError(f"path must be a file name or a binary file object, got {type(path).__name__}")
    return path
