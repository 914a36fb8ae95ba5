"""``descend.onnx.export``: write a descend model as an ONNX file, in the shape of ``torch.onnx.export``.

Design: the exporter walks the module tree, not the autograd graph. Each module class with an export has a
converter (the ``CONVERTERS`` tables of :mod:`descend.onnx.layers`, ``sequence``, ``attention`` and
``preprocess``) that appends the ONNX nodes for that layer in eval mode; containers (Sequential, Residual,
TransformerEncoder) convert their children in order. The example input is run through each layer as it is converted, so every layer sees its real input
shape. A module whose class has no converter (or a subclass that overrides ``forward``) stops the export
with a one-line :class:`ExportError` naming its path, e.g. ``model.3 (MyLayer)``; nothing is written then.
The graph is checked with ``onnx.checker.check_model(full_check=True)`` before it is written atomically.
"""

from __future__ import annotations

import io
import os

import numpy as np

from .graph import ExportError, GraphBuilder, Value, value_info
from . import attention, layers, preprocess, sequence

DEFAULT_OPSET = 17


def converter_for(module):
    """The converter of ``module``'s class, or of its nearest exported base class when it keeps the base's
    ``forward``; None when there is none."""
    table = {**layers.CONVERTERS, **sequence.CONVERTERS, **attention.CONVERTERS, **preprocess.CONVERTERS}
    for cls in type(module).__mro__:
        if cls in table:
            return table[cls] if type(module).forward is cls.forward else None
    return None


def _convert(g):
    def convert(module, x, path):
        if not isinstance(x, Value):
            raise ExportError(f"{path} ({type(module).__name__}) gets the {type(x).__name__} a previous layer "
                              "returned; only the last layer may return several tensors")
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


def _check_args(model, example_input, input_names, opset_version):
    from ..nn import Module
    import onnx
    if not isinstance(model, Module):
        raise TypeError(f"export needs a descend.nn.Module, got {type(model).__name__}")
    x = np.asarray(getattr(example_input, "array", example_input))
    if x.dtype.kind not in "fiu" or x.ndim == 0:
        raise TypeError(f"example_input must be a non-scalar numeric Tensor or array, got dtype {x.dtype} and "
                        f"shape {x.shape}")
    opset = DEFAULT_OPSET if opset_version is None else opset_version
    newest = onnx.defs.onnx_opset_version()
    if isinstance(opset, bool) or not isinstance(opset, int) or not DEFAULT_OPSET <= opset <= newest:
        raise ValueError(f"opset_version must be an int in [{DEFAULT_OPSET}, {newest}], got {opset_version!r}")
    if input_names is not None and (isinstance(input_names, str) or len(input_names) != 1
                                    or not all(isinstance(n, str) and n for n in input_names)):
        raise ValueError(f"input_names must be a list of one non-empty name (the model has one input), "
                         f"got {input_names!r}")
    return x, opset


def _flatten(out, path="model"):
    """The graph outputs of a converted model: a Value, or (nested) tuples of them, flattened in order."""
    if isinstance(out, Value):
        return [out]
    if isinstance(out, (tuple, list)):
        return [v for item in out for v in _flatten(item, path)]
    raise ExportError(f"{path}: the model returns {type(out).__name__}; export needs tensors")


def _names(model, given, n):
    if given is None:
        return sequence.output_names(model, n)
    if isinstance(given, str) or len(given) != n or not all(isinstance(s, str) and s for s in given):
        raise ValueError(f"output_names must be a list of {n} non-empty names (the model has {n} "
                         f"output{'s' if n > 1 else ''}), got {given!r}")
    return list(given)


def build_model_proto(model, example_input, input_names=None, output_names=None, dynamic_axes=None,
                      opset_version=None):
    """The checked ``onnx.ModelProto`` of ``model`` (see :func:`export`), without writing it."""
    import onnx
    from onnx import helper
    x, opset = _check_args(model, example_input, input_names, opset_version)
    in_name = input_names[0] if input_names else "input"
    float_dtype = x.dtype if x.dtype.kind == "f" else next((p.array.dtype for p in model.parameters()), np.float32)
    g = GraphBuilder(opset, float_dtype)
    g.fresh(in_name)
    was_training = model.training
    model.eval()
    try:
        outs = _flatten(_convert(g)(model, Value(in_name, x), "model"))
    finally:
        model.train(was_training)
    names = _names(model, output_names, len(outs))
    if len(set(names) | {in_name}) != len(names) + 1:
        raise ValueError(f"input and output names must all differ, got {in_name!r} and {names}")
    for out, name in zip(outs, names):
        g.node("Identity", [out.name], name)
        g.nodes[-1].output[0] = name
    all_names = [in_name, *names]
    if dynamic_axes is None:
        axes = [sequence.default_axes(model, i - 1, v.ndim) for i, v in enumerate([x, *(o.example for o in outs)])]
    else:
        if not isinstance(dynamic_axes, dict):
            raise TypeError(f"dynamic_axes must be a dict name -> axes, got {type(dynamic_axes).__name__}")
        unknown = set(dynamic_axes) - set(all_names)
        if unknown:
            raise ValueError(f"dynamic_axes names {sorted(unknown)} are not graph inputs or outputs {all_names}")
        axes = [_axes(dynamic_axes.get(n), n, v.ndim) for n, v in zip(all_names, [x, *(o.example for o in outs)])]
    graph = helper.make_graph(g.nodes, type(model).__name__, [value_info(in_name, x, axes[0])],
                              [value_info(n, o.example, a) for n, o, a in zip(names, outs, axes[1:])],
                              initializer=g.initializers)
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

    ``input_names``: one name (default ``input``); ``output_names``: one per output tensor (default
    ``output``; a recurrent layer's ``output``, ``h_n`` (, ``c_n``)). ``dynamic_axes``
    (as in ``torch.onnx.export``): ``{name: [axis, ...]}`` or ``{name: {axis: dim_name}}``; the default
    makes axis 0 a symbolic ``batch`` dimension (for a recurrent model the sequences' ``seq`` and ``batch``
    axes, and axis 1 of its final states). ``opset_version`` defaults to 17 (the first with
    LayerNormalization). Returns ``path``.
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
