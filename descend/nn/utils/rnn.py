"""Variable-length batches for the recurrent layers, under PyTorch's names (``torch.nn.utils.rnn``).

A :class:`PackedSequence` holds B sequences sorted by decreasing length, stored time-major without
padding: ``data`` has one row per (step t, sequence b) with t < length_b, in the order t = 0 (all
sequences), t = 1 (those still running), ...; ``batch_sizes[t]`` is how many sequences reach step t.
``sorted_indices`` maps the sorted order back to the caller's (None when the input was already sorted,
``enforce_sorted=True``). RNN, LSTM and GRU accept one and return one.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ...ops.recurrent import scatter_rows
from ...ops.shape import concatenate, getitem
from ...creation import tensor
from ...tensor import Tensor

__all__ = ["PackedSequence", "pad_sequence", "pack_padded_sequence", "pad_packed_sequence", "pack_sequence",
           "unpad_sequence", "unpack_sequence"]


class PackedSequence(NamedTuple):
    """``(data, batch_sizes, sorted_indices, unsorted_indices)`` as PyTorch's: data (Σ lengths, *),
    batch_sizes an int64 tensor (T,), the index tensors (B,) or None."""

    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None = None
    unsorted_indices: Tensor | None = None

    def lengths(self) -> np.ndarray:
        """Each sequence's length, in sorted order: length_b = #{t : batch_sizes[t] > b}."""
        bs = np.asarray(self.batch_sizes.array)
        return (bs[None, :] > np.arange(int(bs[0]))[:, None]).sum(axis=1)

    def mask(self) -> np.ndarray:
        """(T, B) booleans: True where step t of (sorted) sequence b is present."""
        bs = np.asarray(self.batch_sizes.array)
        return np.arange(int(bs[0]))[None, :] < bs[:, None]


def _lengths_array(lengths, batch) -> np.ndarray:
    arr = np.asarray(lengths.array if isinstance(lengths, Tensor) else lengths)
    if arr.ndim != 1 or arr.shape[0] != batch or (arr.size and arr.dtype.kind not in "iu"):
        raise ValueError(f"lengths must be {batch} integers (one per sequence), got {arr!r}")
    arr = arr.astype(np.int64)
    if arr.size and arr.min() < 1:
        raise ValueError(f"every length must be at least 1, got {arr.tolist()}; drop empty sequences first")
    return arr


def pad_sequence(sequences, batch_first: bool = False, padding_value: float = 0.0, padding_side: str = "right"):
    """Stack tensors of shapes (L_i, *) into (L_max, B, *) (or (B, L_max, *) with ``batch_first``),
    padding with ``padding_value`` on the right (or the left with ``padding_side='left'``)."""
    if padding_side not in ("right", "left"):
        raise ValueError(f"pad_sequence: padding_side must be 'right' or 'left', got {padding_side!r}")
    seqs = [s if isinstance(s, Tensor) else tensor(s) for s in sequences]
    if not seqs:
        raise ValueError("pad_sequence: got no sequences; pass a non-empty list of tensors")
    rest = {tuple(s.shape[1:]) for s in seqs}
    if len(rest) != 1 or seqs[0].ndim < 1:
        raise ValueError(f"pad_sequence: sequences must agree beyond their first dimension, got shapes "
                         f"{[tuple(s.shape) for s in seqs]}")
    lengths = np.array([s.shape[0] for s in seqs])
    T = int(lengths.max())
    steps = np.arange(T)[None, :]
    mask = steps < lengths[:, None] if padding_side == "right" else steps >= T - lengths[:, None]  # (B, T)
    flat = concatenate(seqs, axis=0)
    out = scatter_rows(flat, mask, padding_value)  # (B, T, *)
    return out if batch_first else out.swapaxes(0, 1)


def pack_padded_sequence(input, lengths, batch_first: bool = False, enforce_sorted: bool = True) -> PackedSequence:
    """Pack a padded batch (T, B, *) (or (B, T, *)) whose sequence b has ``lengths[b]`` valid steps.

    With ``enforce_sorted=True`` the lengths must be in decreasing order; with False the batch is sorted
    here and the order is kept in ``sorted_indices`` / ``unsorted_indices``."""
    if not isinstance(input, Tensor):
        input = tensor(input)
    if input.ndim < 2:
        raise ValueError(f"pack_padded_sequence: input must have a time and a batch dimension, got shape "
                         f"{tuple(input.shape)}")
    if batch_first:
        input = input.swapaxes(0, 1)
    lens = _lengths_array(lengths, input.shape[1])
    sorted_indices = unsorted_indices = None
    if enforce_sorted:
        if np.any(lens[1:] > lens[:-1]):
            raise ValueError(f"pack_padded_sequence: lengths {lens.tolist()} must be in decreasing order when "
                             "enforce_sorted=True; sort the batch or pass enforce_sorted=False")
    else:
        order = np.argsort(-lens, kind="stable")
        lens = lens[order]
        input = getitem(input, (slice(None), order))
        sorted_indices = tensor(order.astype(np.int64))
        unsorted_indices = tensor(np.argsort(order).astype(np.int64))
    T = int(lens[0])
    if T > input.shape[0]:
        raise ValueError(f"pack_padded_sequence: a length of {T} exceeds the {input.shape[0]} steps of the input")
    mask = np.arange(T)[:, None] < lens[None, :]
    data = getitem(input[:T] if T < input.shape[0] else input, mask)
    batch_sizes = tensor(mask.sum(axis=1).astype(np.int64))
    return PackedSequence(data, batch_sizes, sorted_indices, unsorted_indices)


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False, padding_value: float = 0.0,
                        total_length=None):
    """Undo :func:`pack_padded_sequence`: ``(padded, lengths)`` with padded (T, B, *) (or (B, T, *)) in the
    caller's original order and ``lengths`` an int64 tensor (B,); ``total_length`` pads T up to that."""
    if not isinstance(sequence, PackedSequence):
        raise TypeError(f"pad_packed_sequence expects a PackedSequence, got {type(sequence).__name__}")
    mask = sequence.mask()
    lens = sequence.lengths()
    if total_length is not None:
        if total_length < mask.shape[0]:
            raise ValueError(f"pad_packed_sequence: total_length {total_length} is shorter than the longest "
                             f"sequence ({mask.shape[0]} steps)")
        mask = np.concatenate([mask, np.zeros((total_length - mask.shape[0], mask.shape[1]), bool)])
    out = scatter_rows(sequence.data, mask, padding_value)
    if sequence.unsorted_indices is not None:
        idx = np.asarray(sequence.unsorted_indices.array)
        out = getitem(out, (slice(None), idx))
        lens = lens[idx]
    if batch_first:
        out = out.swapaxes(0, 1)
    return out, tensor(lens.astype(np.int64))


def pack_sequence(sequences, enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of tensors (L_i, *) directly: ``pack_padded_sequence(pad_sequence(seqs), lengths)``."""
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpad_sequence(padded_sequences, lengths, batch_first: bool = False):
    """Split a padded batch back into a list of tensors, sequence b cut to ``lengths[b]`` steps."""
    x = padded_sequences if batch_first else padded_sequences.swapaxes(0, 1)
    lens = _lengths_array(lengths, x.shape[0])
    return [x[b, :int(n)] for b, n in enumerate(lens)]


def unpack_sequence(packed_sequences: PackedSequence):
    """Split a PackedSequence back into its list of tensors, in the original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)

