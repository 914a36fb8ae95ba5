"""ONNX converters for the transformer family, built on :func:`descend.onnx.attention.attention`:

- TransformerEncoderLayer (post-norm and ``norm_first``; relu or gelu) and TransformerEncoder (its layers,
  then ``norm``): x = norm1(x + SA(x)); x = norm2(x + FF(x)) (pre-norm: x + SA(norm1(x)), x + FF(norm2(x))),
  FF(x) = linear2(act(linear1(x))), with ``src_mask`` / ``src_key_padding_mask`` / ``is_causal``.
- TransformerDecoderLayer and TransformerDecoder: self-attention on ``tgt`` (``tgt_mask``, a causal
  Constant under ``tgt_is_causal`` rebuilt at run time), cross-attention on ``memory`` (``memory_mask``,
  ``memory_key_padding_mask``) and the feed-forward block, with ``norm1..3``.
- Transformer: the encoder on ``src``, then the decoder on ``tgt`` and the encoder's output.
- SinusoidalPositionalEncoding / LearnedPositionalEncoding: x + table[:T], T read from the input's shape
  at run time (``Shape`` → ``Slice``), so the sequence axis may stay symbolic.

Each converter takes the bound ``forward`` arguments (``args``: parameter → Value, Constant or plain value).
"""

from __future__ import annotations

from .. import nn
from ..ops.activation import gelu, relu
from .attention import cross_attention, self_attention
from .graph import ExportError, Value
from .layers import run_call, run_eval


def _activation(m, path):
    if m.activation is relu:
        return nn.ReLU()
    if m.activation is gelu:
        return nn.GELU()
    raise ExportError(f"{path} ({type(m).__name__}): activation {m.activation!r} has no export; use 'relu' or "
                      "'gelu'")


def _blocks(g, m, path, convert):
    act = _activation(m, path)

    def ff(v):
        h = convert(act, convert(m.linear1, v, f"{path}.linear1"), f"{path}.activation")
        return convert(m.linear2, h, f"{path}.linear2")

    def add(a, b):
        return Value(g.node("Add", [a.name, b.name], path), a.example + b.example)
    return ff, add


def encoder_layer(g, m, args, path, convert):
    x, mask, kpm, causal = args["src"], args["src_mask"], args["src_key_padding_mask"], args["is_causal"]
    ff, add = _blocks(g, m, path, convert)

    def sa(v):
        return self_attention(g, m.self_attn, v, f"{path}.self_attn", mask, kpm, causal)
    if m.norm_first:
        x = add(x, sa(convert(m.norm1, x, f"{path}.norm1")))
        return add(x, ff(convert(m.norm2, x, f"{path}.norm2")))
    x = convert(m.norm1, add(x, sa(x)), f"{path}.norm1")
    return convert(m.norm2, add(x, ff(x)), f"{path}.norm2")


def decoder_layer(g, m, args, path, convert):
    x, memory = args["tgt"], args["memory"]
    ff, add = _blocks(g, m, path, convert)

    def sa(v):
        return self_attention(g, m.self_attn, v, f"{path}.self_attn", args["tgt_mask"],
                              args["tgt_key_padding_mask"], args["tgt_is_causal"])

    def ca(v):
        return cross_attention(g, m.multihead_attn, v, memory, f"{path}.multihead_attn", args["memory_mask"],
                               args["memory_key_padding_mask"], args["memory_is_causal"])
    if m.norm_first:
        x = add(x, sa(convert(m.norm1, x, f"{path}.norm1")))
        x = add(x, ca(convert(m.norm2, x, f"{path}.norm2")))
        return add(x, ff(convert(m.norm3, x, f"{path}.norm3")))
    x = convert(m.norm1, add(x, sa(x)), f"{path}.norm1")
    x = convert(m.norm2, add(x, ca(x)), f"{path}.norm2")
    return convert(m.norm3, add(x, ff(x)), f"{path}.norm3")


def encoder(g, m, args, path, convert):
    x = args["src"]
    for i, layer in enumerate(m.layers):
        x = convert(layer, x, f"{path}.layers.{i}", src_mask=args["mask"],
                    src_key_padding_mask=args["src_key_padding_mask"], is_causal=bool(args["is_causal"]))
    return x if m.norm is None else convert(m.norm, x, f"{path}.norm")


def decoder(g, m, args, path, convert):
    x = args["tgt"]
    extra = {k: args[k] for k in ("memory_mask", "tgt_mask", "tgt_key_padding_mask", "memory_key_padding_mask",
                                  "memory_is_causal")}
    for i, layer in enumerate(m.layers):
        x = convert(layer, x, f"{path}.layers.{i}", memory=args["memory"], tgt_is_causal=bool(args["tgt_is_causal"]),
                    **extra)
    return x if m.norm is None else convert(m.norm, x, f"{path}.norm")


def transformer(g, m, args, path, convert):
    run_call(m, **args)    # descend's own checks of the shapes (batch sizes, d_model) first
    memory = convert(m.encoder, args["src"], f"{path}.encoder", mask=args["src_mask"],
                     src_key_padding_mask=args["src_key_padding_mask"], is_causal=args["src_is_causal"])
    return convert(m.decoder, args["tgt"], f"{path}.decoder", memory=memory, tgt_mask=args["tgt_mask"],
                   memory_mask=args["memory_mask"], tgt_key_padding_mask=args["tgt_key_padding_mask"],
                   memory_key_padding_mask=args["memory_key_padding_mask"], tgt_is_causal=args["tgt_is_causal"],
                   memory_is_causal=args["memory_is_causal"])


def positional(g, m, x, path, convert):
    nd = x.example.ndim
    table = m.pe.array if isinstance(m, nn.SinusoidalPositionalEncoding) else m.weight.array
    axis = 1 if (m.batch_first and nd == 3) else 0
    steps = g.node("Shape", [x.name], path, start=axis, end=axis + 1)
    pe = g.node("Slice", [g.const(table, f"{path}.table"), g.ints([0], f"{path}.zero"), steps,
                          g.ints([0], f"{path}.axis")], path)
    if nd == 3:
        pe = g.unsqueeze(pe, [0 if m.batch_first else 1], path)
    return Value(g.node("Add", [x.name, pe], path), run_eval(m, x.example))


CONVERTERS = {nn.SinusoidalPositionalEncoding: positional, nn.LearnedPositionalEncoding: positional}
CALLS = {nn.TransformerEncoderLayer: encoder_layer, nn.TransformerEncoder: encoder,
         nn.TransformerDecoderLayer: decoder_layer, nn.TransformerDecoder: decoder, nn.Transformer: transformer}
