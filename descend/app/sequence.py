"""Sequence models for the app: the layer types ``rnn``, ``lstm``, ``gru``, ``embedding``, ``transformer`` and
``step_linear`` of ``model.layers``, and the presets ``rnn``, ``lstm``, ``gru`` and ``transformer``.

Inputs are batch-first. A sample is either a sequence of feature vectors ``(T, F)`` (MNIST-1D, a ``.npz``
whose ``x`` is ``(N, T, F)``): the presets then classify it, or a window of token indices ``(T,)`` (a text
file, the ``language-model`` task): the presets then predict the next token at every step, an output
``(T, V)`` with V the vocabulary size.

- ``rnn`` / ``lstm`` / ``gru`` (widths ``model.hidden``, default [128]): one recurrent layer per width;
  classification keeps the last step's output h_T of the last layer → Dropout? → Linear(num_outputs);
  tokens: Embedding(V, hidden[0]) → the recurrent layers over all steps → Linear(V) at every step.
- ``transformer`` (widths ``model.hidden``, default [64, 64]: one encoder layer of width d per entry, all
  equal; ``model.heads`` heads; feed-forward width 4d; ``model.dropout`` inside the layers;
  ``model.norm_first``: pre-LN x + SA(LN(x)), else post-LN LN(x + SA(x)) as in Vaswani et al. 2017):
  classification: Linear(F, d) → learned positions → encoder → mean over steps → Linear(num_outputs);
  tokens: Embedding(V, d) → learned positions → the encoder with the causal mask (step i sees j ≤ i: a
  decoder-only model) → Linear(V) at every step.
"""

from __future__ import annotations

import numpy as np

from .. import nn
from ..creation import as_tensor
from ..ops import cat
from .errors import ConfigError

__all__ = ["RecurrentBlock", "TokenEmbedding", "SequenceTransformer", "SEQUENCE_BLOCKS", "SEQUENCE_LAYER_TYPES",
           "SEQUENCE_LAYER_REQUIRED", "sequence_layer", "rnn_layers", "lstm_layers", "gru_layers",
           "transformer_layers"]

_RECURRENT = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class RecurrentBlock(nn.Module):
    """``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` (batch-first) returning the output sequence ``(N, T, H·D)`` or,
    with ``last=True``, the last step's output ``(N, H·D)`` (the reverse direction's state after reading the
    whole sequence, i.e. its output at step 0, when bidirectional)."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bidirectional: bool = False, dropout: float = 0.0, last: bool = True):
        super().__init__()
        if mode not in _RECURRENT:
            raise ValueError(f"RecurrentBlock: mode must be one of {', '.join(_RECURRENT)}, got {mode!r}")
        self.rnn = _RECURRENT[mode](input_size, hidden_size, num_layers=num_layers, batch_first=True,
                                    bidirectional=bidirectional, dropout=dropout)
        self.hidden_size, self.bidirectional, self.last = hidden_size, bool(bidirectional), bool(last)

    def forward(self, x):
        out, _ = self.rnn(x)
        if not self.last:
            return out
        if not self.bidirectional:
            return out[:, -1]
        h = self.hidden_size
        return cat([out[:, -1, :h], out[:, 0, h:]], dim=1)


class TokenEmbedding(nn.Module):
    """``nn.Embedding`` taking token indices given in any numeric dtype (the model builder probes with
    float zeros): ``(N, T)`` → ``(N, T, E)``."""

    def __init__(self, num_embeddings: int, embedding_dim: int):
        super().__init__()
        self.embedding = nn.Embedding(num_embeddings, embedding_dim)

    def forward(self, x):
        ids = x.array if hasattr(x, "array") else np.asarray(x)
        return self.embedding(as_tensor(np.asarray(ids).astype(np.int64, copy=False)))


class SequenceTransformer(nn.Module):
    """Linear(F, d) (when F ≠ d) → learned positional encoding → ``nn.TransformerEncoder`` of
    ``num_layers`` batch-first layers (a final LayerNorm when pre-LN) with the causal mask when ``causal``
    → ``pool``: ``"mean"`` over steps ``(N, d)``, ``"last"`` step ``(N, d)`` or ``"none"`` ``(N, T, d)``."""

    def __init__(self, input_size: int, d_model: int, nhead: int = 4, num_layers: int = 2,
                 dim_feedforward: int | None = None, dropout: float = 0.0, norm_first: bool = False,
                 causal: bool = False, pool: str = "mean", max_len: int = 512, activation: str = "relu"):
        super().__init__()
        if pool not in ("mean", "last", "none"):
            raise ValueError(f"SequenceTransformer: pool must be 'mean', 'last' or 'none', got {pool!r}")
        if d_model % nhead:
            raise ValueError(f"SequenceTransformer: d_model = {d_model} must be divisible by nhead = {nhead}; "
                             f"change model.hidden or model.heads")
        self.proj = nn.Linear(input_size, d_model) if input_size != d_model else None
        self.pos = nn.LearnedPositionalEncoding(d_model, max_len=max_len, batch_first=True)
        layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward or 4 * d_model, dropout=dropout,
                                           activation=activation, batch_first=True, norm_first=norm_first)
        self.encoder = nn.TransformerEncoder(layer, num_layers, norm=nn.LayerNorm(d_model) if norm_first else None)
        self.causal, self.pool = bool(causal), pool

    def forward(self, x):
        if self.proj is not None:
            x = self.proj(x)
        x = self.pos(x)
        T = x.shape[1]
        mask = nn.Transformer.generate_square_subsequent_mask(T) if self.causal else None
        x = self.encoder(x, mask=mask, is_causal=self.causal)
        if self.pool == "mean":
            return x.mean(dim=1)
        return x[:, -1] if self.pool == "last" else x


#: The modules the sequence layer types build (``model.init = "auto"`` keeps their PyTorch defaults).
SEQUENCE_BLOCKS = (RecurrentBlock, TokenEmbedding, SequenceTransformer)

_RNN_ARGS = {"hidden_size": "int", "num_layers": "int", "bidirectional": "bool", "dropout": "float", "last": "bool"}
#: Layer tables of the sequence layer types: type -> {argument: kind} (merged into ``layer_types()``).
SEQUENCE_LAYER_TYPES: dict[str, dict[str, str]] = {
    "rnn": dict(_RNN_ARGS), "lstm": dict(_RNN_ARGS), "gru": dict(_RNN_ARGS),
    "embedding": {"num_embeddings": "int", "embedding_dim": "int"},
    "transformer": {"d_model": "int", "nhead": "int", "num_layers": "int", "dim_feedforward": "int",
                    "dropout": "float", "norm_first": "bool", "causal": "bool", "pool": "str",
                    "activation": "str"},
    "step_linear": {"out_features": "int", "bias": "bool"},
}
SEQUENCE_LAYER_REQUIRED = {"rnn": ("hidden_size",), "lstm": ("hidden_size",), "gru": ("hidden_size",),
                           "embedding": ("num_embeddings", "embedding_dim"), "transformer": ("d_model",),
                           "step_linear": ("out_features",)}


def sequence_layer(kind: str, args: dict, shape: tuple, where: str):
    """Build one sequence layer from its table's arguments for input ``shape`` (without batch)."""
    if kind == "step_linear":
        return nn.Linear(shape[-1], args.pop("out_features"), **args)
    if kind == "embedding":
        if len(shape) != 1:
            raise ConfigError(f"{where} (embedding) needs token windows (T,) but gets shape {shape}")
        return TokenEmbedding(args["num_embeddings"], args["embedding_dim"])
    if len(shape) != 2:
        raise ConfigError(f"{where} ({kind}) needs sequences (T, F) but gets shape {shape}; put an embedding "
                          f"first for token windows")
    if kind == "transformer":
        return SequenceTransformer(shape[1], max_len=shape[0], **args)
    return RecurrentBlock(kind, shape[1], args.pop("hidden_size"), **args)


# ------------------------------------------------------------------------------------------- presets
def _need_sequence(name: str, input_shape) -> bool:
    """True for token windows (T,), False for feature sequences (T, F); anything else is refused."""
    if len(input_shape) not in (1, 2):
        raise ConfigError(f"model.preset = {name!r} needs sequences (T, F) or token windows (T,) but the data "
                          f"has samples of shape {tuple(input_shape)}; use model.preset = 'cnn' or 'mlp'")
    return len(input_shape) == 1


def _recurrent(mode: str):
    def layers(model_cfg: dict, input_shape, num_outputs: int, hidden=(128,)) -> list:
        tokens = _need_sequence(mode, input_shape)
        hidden = list(hidden)
        out = [{"type": "embedding", "num_embeddings": num_outputs, "embedding_dim": hidden[0]}] if tokens else []
        for i, h in enumerate(hidden):
            out.append({"type": mode, "hidden_size": h, "last": not tokens and i == len(hidden) - 1})
        drop = [{"type": "dropout", "p": model_cfg["dropout"]}] if model_cfg["dropout"] > 0 else []
        head = {"type": "step_linear" if tokens else "linear", "out_features": num_outputs}
        return out + drop + [head]
    layers.__name__ = f"{mode}_layers"
    layers.__doc__ = f"One {mode.upper()} layer per width of model.hidden, then the Linear head (see the module)."
    return layers


rnn_layers, lstm_layers, gru_layers = _recurrent("rnn"), _recurrent("lstm"), _recurrent("gru")


def transformer_layers(model_cfg: dict, input_shape, num_outputs: int, hidden=(64, 64)) -> list:
    """A Transformer encoder of len(hidden) layers of width hidden[0]: mean-pooled for classification,
    causal with a per-step head for token windows (see the module)."""
    tokens = _need_sequence("transformer", input_shape)
    if len(set(hidden)) != 1:
        raise ConfigError(f"model.hidden = {list(hidden)} for the transformer preset must repeat one width "
                          f"(one entry per layer, e.g. [64, 64])")
    d = int(hidden[0])
    act = model_cfg["activation"] if model_cfg["activation"] in ("relu", "gelu") else "relu"
    block = {"type": "transformer", "d_model": d, "nhead": model_cfg["heads"], "num_layers": len(hidden),
             "dropout": model_cfg["dropout"], "norm_first": model_cfg["norm_first"], "activation": act}
    if tokens:
        return [{"type": "embedding", "num_embeddings": num_outputs, "embedding_dim": d},
                {**block, "causal": True, "pool": "none"}, {"type": "step_linear", "out_features": num_outputs}]
    return [{**block, "pool": "mean"}, {"type": "linear", "out_features": num_outputs}]
