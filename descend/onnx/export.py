"""``descend.onnx.export``: write a descend model as an ONNX file, in the shape of ``torch.onnx.export``.

Design: the exporter walks the module tree, not the autograd graph. Each module class with an export has a
converter that appends the ONNX nodes for that layer in eval mode: layers of one input in the
``CONVERTERS`` tables of :mod:`descend.onnx.layers`, ``transformer``, ``preprocess`` and ``app_blocks``,
layers of several inputs (attention, transformers, recurrent layers and cells with states) in the ``CALLS``
tables of ``attention``, ``transformer`` and ``sequence``, which take ``forward``'s bound arguments
(:mod:`descend.onnx.signature`). Containers (Sequential, Residual, the transformer stacks) convert their
children in order. The example input is run through each layer as it is converted, so every layer sees its
real input shape. A module whose class has no converter (or a
subclass that overrides ``forward``) stops the export with a one-line :class:`ExportError` naming its path,
e.g. ``model.3 (MyLayer)``; nothing is written then. The graph is checked with
``onnx.checker.check_model(full_check=True)`` before it is written atomically.
"""

from __future__ import annotations

import inspect
import io
import os

import numpy as np

from .graph import Constant, ExportError, GraphBuilder, Value, value_info
from . import app_blocks, attention, layers, preprocess, sequence, signature, transformer

DEFAULT_OPSET = 17


def _tables():
    leaf = {**layers.CONVERTERS, **transformer.CONVERTERS, **preprocess.CONVERTERS, **app_blocks.CONVERTERS}
    calls = {**attention.CALLS, **transformer.CALLS, **sequence.CALLS}
    return leaf, calls


def _lookup(module, table):
    for cls in type(module).__mro__:
        if cls in table:
            return table[cls] if type(module).forward is cls.forward else None, True
    return None, False


def converter_for(module):
    """The converter of ``module``'s class, or of its nearest exported base class when it keeps the base's
    ``forward``; None when there is none. A layer of one input has ``fn(g, module, x, path, convert)``; a
    layer of several inputs (attention, transformers, recurrent layers) ``fn(g, module, args, path,
    convert)`` with ``args`` its bound ``forward`` arguments."""
    leaf, calls = _tables()
    for table in (calls, leaf):
        fn, found = _lookup(module, table)
        if found:
            return fn
    return None


def _is_call(module):
    return _lookup(module, _tables()[1])[0] is not None


def _bound_child(module, x, extra, path):
    """``forward``'s arguments of a child called with ``x`` and the keyword arguments ``extra``."""
    sig = inspect.signature(module.forward)
    try:
        bound = sig.bind(x, **extra)
    except TypeError as exc:
        raise ExportError(f"{path} ({type(module).__name__}) cannot be called with one input here: {exc}") \
            from None
    bound.apply_defaults()
    return dict(bound.arguments)


def _convert(g):
    def convert(module, x, path, **extra):
        name = type(module).__name__
        fn = converter_for(module)
        if fn is None:
            raise ExportError(f"{path} ({name}) has no ONNX export; supported layers are listed in docs/export.md")
        if _is_call(module):
            args = x if isinstance(x, dict) else _bound_child(module, x, extra, path)
            return fn(g, module, args, path, convert)
        if isinstance(x, dict):
            x = _single_input(module, x, path)
        elif extra:
            raise ExportError(f"{path} ({name}) takes one input, not {sorted(extra)}")
        if not isinstance(x, Value):
            raise ExportError(f"{path} ({name}) gets the {type(x).__name__} a previous layer returned; only the "
                              "last layer may return several tensors")
        return fn(g, module, x, path, convert)
    return convert


def _single_input(module, bound, path):
    """The one tensor argument of a layer of one input, given its bound ``forward`` arguments."""
    params = inspect.signature(module.forward).parameters
    first, *rest = list(bound)
    extra = [k for k in rest if bound[k] is not params[k].default]
    if extra:
        raise ExportError(f"{path} ({type(module).__name__}) takes one input; example_input also gives {extra}")
    x = bound[first]
    if isinstance(x, Constant):
        raise ExportError(f"{path} ({type(module).__name__}): its input must be a graph input, not a Constant")
    return x


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


def _check_args(model, opset_version):
    from ..nn import Module
    import onnx
    if not isinstance(model, Module):
        raise TypeError(f"export needs a descend.nn.Module, got {type(model).__name__}")
    opset = DEFAULT_OPSET if opset_version is None else opset_version
    newest = onnx.defs.onnx_opset_version()
    if isinstance(opset, bool) or not isinstance(opset, int) or not DEFAULT_OPSET <= opset <= newest:
        raise ValueError(f"opset_version must be an int in [{DEFAULT_OPSET}, {newest}], got {opset_version!r}")
    return opset


def _input_names(given, slots):
    n = len(slots)
    if given is None:
        return [label for label, _ in slots]
    if isinstance(given, str) or len(given) != n or not all(isinstance(s, str) and s for s in given):
        count = "one" if n == 1 else str(n)
        raise ValueError(f"input_names must be a list of {count} non-empty name{'s' if n > 1 else ''} (the model "
                         f"has {count} input{'s' if n > 1 else ''}: {[label for label, _ in slots]}), "
                         f"got {given!r}")
    return list(given)


def _flatten(out, path="model"):
    """The graph outputs of a converted model: a Value, or (nested) tuples of them, flattened in order."""
    if isinstance(out, Value):
        return [out]
    if out is None:
        return []
    if isinstance(out, (tuple, list)):
        return [v for item in out for v in _flatten(item, path)]
    raise ExportError(f"{path}: the model returns {type(out).__name__}; export needs tensors")


def _names(model, given, n):
    if given is None:
        return signature.output_names(model, n)
    if isinstance(given, str) or len(given) != n or not all(isinstance(s, str) and s for s in given):
        raise ValueError(f"output_names must be a list of {n} non-empty names (the model has {n} "
                         f"output{'s' if n > 1 else ''}), got {given!r}")
    return list(given)


def build_model_proto(model, example_input, input_names=None, output_names=None, dynamic_axes=None,
                      opset_version=None, kwargs=None):
    """The checked ``onnx.ModelProto`` of ``model`` (see :func:`export`), without writing it."""
    import onnx
    from onnx import helper
    opset = _check_args(model, opset_version)
    bound, slots = signature.bind(model, example_input, kwargs)
    in_names = _input_names(input_names, slots)
    floats = [v.example.dtype for _, v in slots if v.example.dtype.kind == "f"]
    float_dtype = floats[0] if floats else next((p.array.dtype for p in model.parameters()), np.float32)
    g = GraphBuilder(opset, float_dtype)
    for name, (_, value) in zip(in_names, slots):
        if g.fresh(name) != name:
            raise ValueError(f"input_names must all differ, got {in_names}")
        value.name = name
    was_training = model.training
    model.eval()
    try:
        outs = _flatten(_convert(g)(model, bound, "model"))
    finally:
        model.train(was_training)
    names = _names(model, output_names, len(outs))
    if len(set(names) | set(in_names)) != len(names) + len(in_names):
        raise ValueError(f"input and output names must all differ, got {in_names} and {names}")
    for out, name in zip(outs, names):
        g.node("Identity", [out.name], name)
        g.nodes[-1].output[0] = name
    all_names = [*in_names, *names]
    examples = [v.example for _, v in slots] + [o.example for o in outs]
    if dynamic_axes is None:
        axes = signature.default_axes(model, bound, slots, outs)
    else:
        if not isinstance(dynamic_axes, dict):
            raise TypeError(f"dynamic_axes must be a dict name -> axes, got {type(dynamic_axes).__name__}")
        unknown = set(dynamic_axes) - set(all_names)
        if unknown:
            raise ValueError(f"dynamic_axes names {sorted(unknown)} are not graph inputs or outputs {all_names}")
        axes = [_axes(dynamic_axes.get(n), n, v.ndim) for n, v in zip(all_names, examples)]
    n_in = len(in_names)
    graph = helper.make_graph(g.nodes, type(model).__name__,
                              [value_info(n, v, a) for n, v, a in zip(in_names, examples, axes)],
                              [value_info(n, v, a) for n, v, a in zip(names, examples[n_in:], axes[n_in:])],
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
           opset_version=None, kwargs=None):
    """Write ``model`` (eval-mode semantics) as ONNX to ``path`` (a file name, written atomically, or a binary
    file object), traced on ``example_input``.

    ``example_input``: a Tensor or array (one graph input), or as in ``torch.onnx.export`` a tuple of
    ``forward``'s positional arguments, optionally ending with a dict of keyword arguments (``kwargs`` adds
    more): each Tensor/array is a graph input (a tuple such as an LSTM's ``(h0, c0)``: one each), a
    :class:`Constant` is stored in the graph, ``None`` / numbers / flags are passed to ``forward`` as they are.
    ``input_names``: one per graph input (default ``input`` for one input, else ``forward``'s parameter names:
    ``query``, ``key``, ``value``, ``attn_mask``, ``h0``, ``c0`` ...); ``output_names``: one per output tensor
    (default ``output``; a recurrent layer's ``output``, ``h_n`` (, ``c_n``); attention's ``output``,
    ``attn_weights``). ``dynamic_axes`` (as in ``torch.onnx.export``): ``{name: [axis, ...]}`` or
    ``{name: {axis: dim_name}}``; the default makes the batch axis a symbolic ``batch`` dimension, and for
    sequence models the sequence lengths (``seq``; ``tgt_seq`` / ``src_seq``), masks and states too (see
    docs/export.md). ``opset_version`` defaults to 17 (the first with LayerNormalization). Returns ``path``.
    Raises :class:`ExportError` naming the layer path when a layer has no export.
    """
    proto = build_model_proto(model, example_input, input_names, output_names, dynamic_axes, opset_version, kwargs)
    data = proto.SerializeToString()
    if isinstance(path, (str, os.PathLike)):
        from ..io import atomic_write_bytes
        atomic_write_bytes(path, data)
    elif isinstance(path, io.IOBase) or hasattr(path, "write"):
        path.write(data)
    else:
        raise TypeError(f"path must be a file name or a binary file object, got {type(path).__name__}")
    return path
