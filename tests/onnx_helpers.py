"""Shared by the ONNX tests of several inputs: export once, then compare onnxruntime with descend's eval
output on other batch sizes and sequence lengths (through the graph's symbolic axes)."""

import io

import numpy as np
import onnx
import onnxruntime as ort

import descend
import descend.onnx as donnx
from descend.tensor import Tensor


def session(proto_bytes):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(proto_bytes, opts, providers=["CPUExecutionProvider"])


def split(example):
    args = list(example) if isinstance(example, tuple) else [example]
    kw = args.pop() if args and isinstance(args[-1], dict) else {}
    return args, kw


def graph_feed(example):
    """The arrays that become graph inputs, in order (Constants and plain values are not inputs)."""
    args, kw = split(example)
    out = []

    def walk(v):
        if isinstance(v, tuple):
            for item in v:
                walk(item)
        elif isinstance(v, np.ndarray):
            out.append(v)
    for v in [*args, *kw.values()]:
        walk(v)
    return out


def descend_outputs(model, example):
    """model(*args, **kwargs) in no_grad mode, the outputs flattened as arrays (None dropped)."""
    def wrap(v):
        if isinstance(v, tuple):
            return tuple(wrap(i) for i in v)
        if isinstance(v, donnx.Constant):
            return Tensor.from_array(v.array)
        return Tensor.from_array(v) if isinstance(v, np.ndarray) else v
    args, kw = split(example)
    with descend.no_grad():
        out = model(*[wrap(a) for a in args], **{k: wrap(v) for k, v in kw.items()})
    flat = []

    def walk(o):
        if isinstance(o, (tuple, list)):
            for item in o:
                walk(item)
        elif o is not None:
            flat.append(o.array)
    walk(out)
    return flat


def check_inputs(model, make, sizes, atol=1e-5, **kwargs):
    """Export ``model`` on ``make(*sizes[0])``, run the full checker, then compare every output of
    onnxruntime with descend's on ``make(*s)`` for each ``s`` in ``sizes``. Returns the ModelProto."""
    model.eval()
    buf = io.BytesIO()
    donnx.export(model, make(*sizes[0]), buf, **kwargs)
    proto = onnx.load_from_string(buf.getvalue())
    onnx.checker.check_model(proto, full_check=True)
    sess = session(buf.getvalue())
    names = [i.name for i in sess.get_inputs()]
    for s in sizes:
        example = make(*s)
        feed = graph_feed(example)
        assert len(feed) == len(names)
        got = sess.run(None, dict(zip(names, feed)))
        want = descend_outputs(model, example)
        assert len(got) == len(want)
        for a, b in zip(got, want):
            assert a.shape == b.shape
            np.testing.assert_allclose(a, b, atol=atol, rtol=1e-5)
    return proto


def dims(value_info):
    return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]
