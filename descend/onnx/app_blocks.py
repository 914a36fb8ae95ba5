"""ONNX converters for the app's sequence blocks (:mod:`descend.app.sequence`), so the ``rnn`` / ``lstm`` /
``gru`` / ``transformer`` presets export like the feed-forward ones:

- RecurrentBlock: its batch-first RNN/LSTM/GRU, then with ``last`` the last step ``Gather(out, −1, axis=1)``
  (bidirectional: the forward half of the last step and the reverse half of step 0, ``Concat``).
- TokenEmbedding: ``Cast`` of the indices to int64 (as ``astype``: truncation), then ``Gather(W, ids)``.
- SequenceTransformer: Linear? → learned positions → the encoder (its causal mask rebuilt from the run-time
  length) → ``ReduceMean`` over steps, the last step, or every step.
"""

from __future__ import annotations

from ..app.sequence import RecurrentBlock, SequenceTransformer, TokenEmbedding
from .. import nn
from .graph import Constant, Value, elem_type
from .layers import run_eval


def _step(g, x, index, path):
    return g.node("Gather", [x, g.ints(index, f"{path}.step")], path, axis=1)


def recurrent_block(g, m, x, path, convert):
    out = convert(m.rnn, x, f"{path}.rnn")[0]
    if not m.last:
        return out
    if not m.bidirectional:
        return Value(_step(g, out.name, -1, path), run_eval(m, x.example))
    h = m.hidden_size
    fwd = g.node("Slice", [_step(g, out.name, -1, path), g.ints([0], f"{path}.lo"), g.ints([h], f"{path}.mid"),
                           g.ints([1], f"{path}.axis")], path)
    rev = g.node("Slice", [_step(g, out.name, 0, path), g.ints([h], f"{path}.mid"), g.ints([2 * h], f"{path}.hi"),
                           g.ints([1], f"{path}.axis")], path)
    return Value(g.node("Concat", [fwd, rev], path, axis=1), run_eval(m, x.example))


def token_embedding(g, m, x, path, convert):
    ids = x.name if x.example.dtype.kind in "iu" else g.node("Cast", [x.name], path, to=int(elem_type("int64")))
    out = g.node("Gather", [g.const(m.embedding.weight.array, f"{path}.embedding.weight"), ids], path, axis=0)
    return Value(out, run_eval(m, x.example))


def sequence_transformer(g, m, x, path, convert):
    if m.proj is not None:
        x = convert(m.proj, x, f"{path}.proj")
    x = convert(m.pos, x, f"{path}.pos")
    mask = None
    if m.causal:
        mask = Constant(nn.Transformer.generate_square_subsequent_mask(x.example.shape[1]).array)
    y = convert(m.encoder, x, f"{path}.encoder", mask=mask, is_causal=m.causal)
    if m.pool == "mean":
        return Value(g.reduce("ReduceMean", y.name, [1], path, keepdims=0), y.example.mean(axis=1))
    if m.pool == "last":
        return Value(_step(g, y.name, -1, path), y.example[:, -1])
    return y


CONVERTERS = {RecurrentBlock: recurrent_block, TokenEmbedding: token_embedding,
              SequenceTransformer: sequence_transformer}
