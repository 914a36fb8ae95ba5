"""The graph's inputs and outputs: ``example_input`` bound to the model's ``forward``, default names and
default symbolic axes.

``example_input`` is one Tensor/array (one graph input) or, as in ``torch.onnx.export``, a tuple of the
positional arguments optionally ending with a dict of keyword arguments. Each Tensor/array becomes a graph
input (a tuple of them, like an LSTM's ``(h0, c0)``, one input per tensor); a :class:`Constant` is baked into
the graph; ``None``, numbers and flags (``need_weights=False``) are passed to ``forward`` as they are.

Default input names: ``input`` for a model with one graph input, else ``forward``'s parameter names
(``query``, ``key``, ``value``, ``attn_mask``; ``src``, ``tgt``; ``input``, ``h0``, ``c0``). Default axes give
every sequence, mask and state its symbolic ``batch`` and length dimensions, named by role (``seq`` for an
encoder's or recurrent layer's one length; ``tgt_seq`` / ``src_seq`` for a query or target against keys or a
memory), so ONNX Runtime checks that related inputs agree. A dimension spanned by a :class:`Constant` is
fixed (the constant has that size), except a causal mask rebuilt at run time.
"""

from __future__ import annotations

import inspect

import numpy as np

from .. import nn
from .graph import Constant, ExportError, Value

SEQ, MASK, KPM, STATE, WEIGHTS, ROW = "seq", "mask", "kpm", "state", "weights", "row"

_MHA = {"query": (SEQ, "tgt_seq"), "key": (SEQ, "src_seq"), "value": (SEQ, "src_seq"),
        "attn_mask": (MASK, "tgt_seq", "src_seq"), "key_padding_mask": (KPM, "src_seq")}
_ENC = {"src": (SEQ, "seq"), "src_mask": (MASK, "seq", "seq"), "mask": (MASK, "seq", "seq"),
        "src_key_padding_mask": (KPM, "seq")}
_DEC = {"tgt": (SEQ, "tgt_seq"), "memory": (SEQ, "src_seq"), "tgt_mask": (MASK, "tgt_seq", "tgt_seq"),
        "memory_mask": (MASK, "tgt_seq", "src_seq"), "tgt_key_padding_mask": (KPM, "tgt_seq"),
        "memory_key_padding_mask": (KPM, "src_seq")}
_TRANSFORMER = {**_DEC, "src": (SEQ, "src_seq"), "src_mask": (MASK, "src_seq", "src_seq"),
                "src_key_padding_mask": (KPM, "src_seq")}
_RNN = {"input": (SEQ, "seq"), "hx": (STATE,)}

# class -> (roles of forward's parameters, roles of the flattened outputs, mask parameter -> its causal flag)
ROLES = {
    nn.MultiheadAttention: (_MHA, [(SEQ, "tgt_seq"), (WEIGHTS,)], {"attn_mask": "is_causal"}),
    nn.TransformerEncoderLayer: (_ENC, [(SEQ, "seq")], {"src_mask": "is_causal"}),
    nn.TransformerEncoder: (_ENC, [(SEQ, "seq")], {"mask": "is_causal"}),
    nn.TransformerDecoderLayer: (_DEC, [(SEQ, "tgt_seq")], {"tgt_mask": "tgt_is_causal",
                                                            "memory_mask": "memory_is_causal"}),
    nn.TransformerDecoder: (_DEC, [(SEQ, "tgt_seq")], {"tgt_mask": "tgt_is_causal",
                                                       "memory_mask": "memory_is_causal"}),
    nn.Transformer: (_TRANSFORMER, [(SEQ, "tgt_seq")], {"src_mask": "src_is_causal", "tgt_mask": "tgt_is_causal",
                                                        "memory_mask": "memory_is_causal"}),
    nn.RNNBase: (_RNN, [(SEQ, "seq"), (STATE,), (STATE,)], {}),
    **{cls: ({"input": (ROW,), "hx": (ROW,)}, [(ROW,), (ROW,)], {}) for cls in (nn.RNNCell, nn.LSTMCell, nn.GRUCell)},
}


def roles_of(model):
    return next((ROLES[c] for c in type(model).__mro__ if c in ROLES), None)


def is_causal_pattern(mask) -> bool:
    """Whether a (L, S) mask blocks exactly the keys j > i (boolean True, or −∞ added, above the diagonal)."""
    m = np.asarray(mask)
    if m.ndim != 2:
        return False
    above = np.triu(np.ones(m.shape, bool), k=1)
    if m.dtype == bool:
        return bool(np.array_equal(m, above))
    return m.dtype.kind == "f" and bool(np.all(np.isneginf(m[above])) and np.all(m[~above] == 0))


def causal_constants(model, bound) -> set:
    """The mask parameters that hold a causal :class:`Constant` under a true causal flag: they are rebuilt
    from the run-time lengths instead of stored."""
    spec = roles_of(model)
    flags = spec[2] if spec else {}
    return {p for p, flag in flags.items()
            if isinstance(bound.get(p), Constant) and bound.get(flag) and is_causal_pattern(bound[p].array)}


def split_example(example_input, kwargs):
    """``example_input`` (and ``kwargs``) as the positional and keyword arguments of ``forward``."""
    if isinstance(example_input, tuple) and not hasattr(example_input, "_fields"):   # not a PackedSequence
        args = list(example_input)
        kw = dict(args.pop()) if args and isinstance(args[-1], dict) else {}
    else:
        args, kw = [example_input], {}
    if kwargs is not None:
        if not isinstance(kwargs, dict):
            raise TypeError(f"kwargs must be a dict of keyword arguments of forward, got {type(kwargs).__name__}")
        kw.update(kwargs)
    if not args and not kw:
        raise ValueError("example_input is empty; give the model's inputs (a Tensor, or a tuple of them)")
    return args, kw


def _entry(v, label, slots):
    """A converter argument for one example entry; every tensor becomes a placeholder Value in ``slots``."""
    if isinstance(v, (Constant, Value)) or v is None or isinstance(v, (bool, int, float, str)):
        return v
    if hasattr(v, "_fields"):
        raise TypeError(f"example_input {label} is a {type(v).__name__}, which has no ONNX export; pass the padded "
                        "batch (pad_packed_sequence) instead")
    if isinstance(v, tuple):
        return tuple(_entry(item, f"{label}[{i}]", slots) for i, item in enumerate(v))
    arr = np.asarray(getattr(v, "array", v))
    if arr.dtype.kind not in "fiub" or arr.ndim == 0:
        raise TypeError(f"example_input {label} must be a non-scalar numeric or boolean Tensor or array, got "
                        f"dtype {arr.dtype} and shape {arr.shape}")
    value = Value("", np.ascontiguousarray(arr))
    slots.append((label, value))
    return value


def bind(model, example_input, kwargs=None):
    """``(bound, slots)``: ``forward``'s arguments by parameter name (defaults filled in), and the graph
    inputs as ``(parameter label, placeholder Value)`` in order."""
    args, kw = split_example(example_input, kwargs)
    slots: list = []
    sig = inspect.signature(model.forward)
    args = [_entry(v, f"argument {i}", slots) for i, v in enumerate(args)]
    kw = {k: _entry(v, repr(k), slots) for k, v in kw.items()}
    try:
        bound = sig.bind(*args, **kw)
    except TypeError as exc:
        raise TypeError(f"example_input does not fit {type(model).__name__}.forward{sig}: {exc}") from None
    bound.apply_defaults()
    labels = {}
    for name, item in bound.arguments.items():
        for i, v in enumerate(item if isinstance(item, tuple) else (item,)):
            if isinstance(v, Value):
                labels[id(v)] = _default_name(model, name, i, isinstance(item, tuple))
    slots = [(labels[id(v)], v) for _, v in slots]
    if len(slots) == 1 and slots[0][0] == next(iter(sig.parameters)):
        slots = [("input", slots[0][1])]
    if not slots:
        raise ValueError("example_input has no Tensor or array: the graph needs at least one input")
    return dict(bound.arguments), slots


def _default_name(model, param, i, in_tuple):
    if isinstance(model, (nn.RNNBase, nn.RNNCell, nn.LSTMCell, nn.GRUCell)) and param == "hx":
        return ("h0", "c0")[i] if in_tuple else "h0"
    return f"{param}_{i}" if in_tuple else param


def output_names(model, n: int) -> list:
    """Default names of a model's ``n`` graph outputs."""
    if n == 1:
        return ["output"]
    if isinstance(model, nn.RNNBase) and n in (2, 3):
        return ["output", "h_n", "c_n"][:n]
    if isinstance(model, nn.LSTMCell) and n == 2:
        return ["h_1", "c_1"]
    if isinstance(model, nn.MultiheadAttention) and n == 2:
        return ["output", "attn_weights"]
    return ["output"] + [f"output_{i}" for i in range(1, n)]


def sequence_layout(model):
    """True/False when ``model`` reads sequences batch-first/time-major (a recurrent layer, a transformer,
    an attention layer, a positional encoding, or a Sequential holding one: its first); None otherwise."""
    if isinstance(model, nn.Sequential):
        return next((lay for lay in map(sequence_layout, model) if lay is not None), None)
    from ..app.sequence import RecurrentBlock, SequenceTransformer
    if isinstance(model, (RecurrentBlock, SequenceTransformer)):
        return True
    if isinstance(model, (nn.RNNBase, nn.SinusoidalPositionalEncoding, nn.LearnedPositionalEncoding,
                          nn.MultiheadAttention, nn.Transformer)):
        return model.batch_first
    if isinstance(model, (nn.TransformerEncoderLayer, nn.TransformerDecoderLayer)):
        return model.self_attn.batch_first
    if isinstance(model, (nn.TransformerEncoder, nn.TransformerDecoder)) and len(model.layers):
        return sequence_layout(model.layers[0])
    return None


def _axes_of(role, ndim, batch_first):
    kind = role[0]
    if kind == SEQ:
        if ndim == 3:
            return {0: "batch", 1: role[1]} if batch_first else {0: role[1], 1: "batch"}
        return {0: role[1]} if ndim == 2 else {}
    if kind == MASK:
        return {0: role[1], 1: role[2]} if ndim == 2 else {0: "batch_heads", 1: role[1], 2: role[2]}
    if kind == KPM:
        return {0: "batch", 1: role[1]} if ndim == 2 else {0: role[1]}
    if kind == STATE:
        return {1: "batch"} if ndim == 3 else {}
    if kind == ROW:
        return {0: "batch"} if ndim == 2 else {}
    # attention weights: (N, L, S), (N, H, L, S) or unbatched (L, S) / (H, L, S)
    return ({3: {0: "batch", 1: "tgt_seq", 2: "src_seq"}, 4: {0: "batch", 2: "tgt_seq", 3: "src_seq"},
             2: {0: "tgt_seq", 1: "src_seq"}}).get(ndim, {})


def _first_layer(model):
    """The innermost first child of a Sequential (None for any other model)."""
    if not isinstance(model, nn.Sequential) or not len(model):
        return None
    first = model[0]
    return _first_layer(first) if isinstance(first, nn.Sequential) else first


def _last_layer(model):
    """The innermost last child of a Sequential (None for any other model)."""
    if not isinstance(model, nn.Sequential) or not len(model):
        return None
    last = model[len(model) - 1]
    return _last_layer(last) if isinstance(last, nn.Sequential) else last


def _container_axes(model, layout, slots, outs) -> list:
    """Default axes of a model without roles (a single layer, or a Sequential): axis 0 ``batch``; 3-D
    sequences of a sequence model ``seq`` and ``batch``; the (N, T) token windows of a Sequential starting
    with the app's TokenEmbedding ``batch`` and ``seq``; the final states of a Sequential ending in a
    recurrent layer as that layer's."""
    def generic(ndim):
        if ndim == 0:
            return {}
        if layout is not None and ndim == 3:
            return {0: "batch", 1: "seq"} if layout else {0: "seq", 1: "batch"}
        return {0: "batch"}
    first, last = _first_layer(model), _last_layer(model)
    tokens = layout is not None and type(first).__name__ == "TokenEmbedding"
    ins = [{0: "batch", 1: "seq"} if tokens and v.example.ndim == 2 else generic(v.example.ndim) for _, v in slots]
    out_roles = roles_of(last)[1] if last is not None and len(outs) > 1 and roles_of(last) else None
    if out_roles is not None:
        bf = getattr(last, "batch_first", False)
        return ins + [_axes_of(out_roles[i], o.example.ndim, bf) for i, o in enumerate(outs)]
    return ins + [generic(o.example.ndim) for o in outs]


def default_axes(model, bound, slots, outs) -> list:
    """The default symbolic axes of the graph inputs (``slots``) then outputs (``outs``), one dict each."""
    spec = roles_of(model)
    layout = sequence_layout(model)
    if spec is None:
        return _container_axes(model, layout, slots, outs)
    params, out_roles, _ = spec
    unbatched = False
    first = bound.get(next(iter(params)))
    if isinstance(first, Value) and first.example.ndim == 2 and params[next(iter(params))][0] == SEQ:
        unbatched = True
    owner = {id(v): p for p, item in bound.items() for v in (item if isinstance(item, tuple) else (item,))}

    def axes(role, arr):
        if not role:
            return {}
        nd = arr.ndim
        if unbatched and role[0] == MASK and nd == 3:            # (heads, L, S)
            return {1: role[1], 2: role[2]}
        if unbatched and role[0] == WEIGHTS and nd == 3:
            return {1: "tgt_seq", 2: "src_seq"}
        return _axes_of(role, nd, layout)
    fixed = set()
    rebuilt = causal_constants(model, bound)
    for p, item in bound.items():
        if isinstance(item, Constant) and p in params and p not in rebuilt:
            fixed |= set(axes(params[p], item.array).values())
    ins = [axes(params.get(owner[id(v)]), v.example) for _, v in slots]
    outputs = [axes(out_roles[i] if i < len(out_roles) else None, o.example) for i, o in enumerate(outs)]
    return [{k: n for k, n in a.items() if n not in fixed} for a in ins + outputs]
