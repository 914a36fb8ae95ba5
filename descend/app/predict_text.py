"""``descend predict`` on a character-level language model: the next-character distribution after every
character of a text, and how well the model predicted the text (nats and bits per character).

For each position i of the text c_0 … c_{n−1}, p_i = softmax(scores) is the model's distribution of the
character after c_0 … c_i, read from the model's last ``data.context`` characters at most: positions before
``context`` come from one window starting at the text's start (all the context there is); later ones from
full windows of ``context`` characters advanced by ``context // 2``, each contributing its last
``context // 2`` steps, so every prediction sees at least half a window of context (the training windows
saw from 0 to ``context − 1`` characters). The text's loss is −(1/(n−1)) Σ_{i<n−1} ln p_i(c_{i+1}) nats per
character; bits per character = nats / ln 2.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np

from ..autograd import no_grad
from ..creation import as_tensor
from ..data.text import TEXT_SUFFIXES, encode
from ..io import atomic_write_bytes, atomic_write_text
from .run_folder import load_run

__all__ = ["next_char_probabilities", "predict_text"]


def _scores(model, windows: np.ndarray) -> np.ndarray:
    with no_grad():
        return np.asarray(model(as_tensor(windows)).array, dtype=np.float64)


def next_char_probabilities(model, ids: np.ndarray, context: int) -> np.ndarray:
    """(n, V) float64: row i is the model's distribution of the character after ids[0..i] (module docstring)."""
    ids = np.asarray(ids, dtype=np.int64)
    n = len(ids)
    first = min(context, n)
    parts = [_scores(model, ids[None, :first])[0]]
    stride = max(1, context // 2)
    ends = list(range(first + stride, n + stride, stride))
    if ends:
        ends[-1] = n                                     # the last block ends with the text
        begins = [first] + ends[:-1]
        for k0 in range(0, len(ends), 256):              # keep only each window's last steps, batch by batch
            block = list(zip(begins[k0:k0 + 256], ends[k0:k0 + 256]))
            scores = _scores(model, np.stack([ids[end - context:end] for _, end in block]))
            parts += [scores[k, context - (end - b):] for k, (b, end) in enumerate(block)]
    s = np.concatenate(parts)
    s = s - s.max(axis=1, keepdims=True)
    p = np.exp(s)
    return p / p.sum(axis=1, keepdims=True)


def _read_text(inputs, prompt) -> str:
    if (inputs is None) == (prompt is None):
        raise ValueError("a language-model run predicts on a text: give a text file (INPUT) or --prompt TEXT, "
                         "not both")
    if prompt is not None:
        if not isinstance(prompt, str):
            raise TypeError(f"prompt must be a string, got {type(prompt).__name__}")
        text = prompt
    else:
        path = Path(inputs)
        if path.suffix.lower() not in TEXT_SUFFIXES:
            raise ValueError(f"input {str(path)!r}: a language-model run reads a UTF-8 text file "
                             f"({', '.join(TEXT_SUFFIXES)}) or --prompt TEXT")
        if not path.is_file():
            raise FileNotFoundError(f"input file {str(path)!r} not found")
        text = path.read_text(encoding="utf-8")
    if not text:
        raise ValueError("the text to predict on is empty; give at least one character")
    return text


def predict_text(run_dir, inputs=None, output=None, prompt=None) -> tuple[Path, dict]:
    """Write the next-character predictions of a language-model run on a text (a file ``inputs`` or the
    string ``prompt``) to ``output`` and return ``(output, summary)``.

    CSV: one row per character: ``position, char, prediction`` (the likeliest next character),
    ``p_prediction``, ``next`` (the character that follows in the text; empty for the last), ``p_next`` (the
    probability the model gave it) and ``bits`` (−log₂ p_next). NPZ: ``probabilities`` (n, V) float32,
    ``vocabulary`` (V,) str, ``ids`` (n,) int64, ``loss`` and ``bits_per_char``. ``summary``: ``characters``,
    ``loss`` (nats per character) and ``bits_per_char`` (None for a one-character text).
    """
    output = Path(output)
    if output.suffix.lower() not in (".csv", ".npz"):
        raise ValueError(f"--output {str(output)!r}: use a .csv or .npz file name")
    text = _read_text(inputs, prompt)
    cfg, model, meta = load_run(Path(run_dir))
    if meta["task"] != "language-model":
        raise ValueError(f"{str(run_dir)!r} is a {meta['task']} run; --prompt and text inputs need a run trained "
                         "on a text file")
    vocab = list(meta["class_names"])
    ids = encode(text, vocab)
    p = next_char_probabilities(model, ids, int(meta["input_shape"][0]))
    n = len(ids)
    p_next = p[np.arange(n - 1), ids[1:]]
    loss = float(-np.log(np.maximum(p_next, 1e-300)).mean()) if n > 1 else None
    summary = {"characters": n, "loss": loss, "bits_per_char": None if loss is None else loss / math.log(2)}
    best = p.argmax(axis=1)
    if output.suffix.lower() == ".npz":
        buf = io.BytesIO()
        np.savez(buf, probabilities=p.astype(np.float32), vocabulary=np.array(vocab, dtype=str), ids=ids,
                 loss=np.float64(np.nan if loss is None else loss),
                 bits_per_char=np.float64(np.nan if loss is None else summary["bits_per_char"]))
        atomic_write_bytes(output, buf.getvalue())
    else:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["position", "char", "prediction", "p_prediction", "next", "p_next", "bits"])
        for i in range(n):
            last = i == n - 1
            w.writerow([i, text[i], vocab[best[i]], f"{p[i, best[i]]:.6g}", "" if last else text[i + 1],
                        "" if last else f"{p_next[i]:.6g}",
                        "" if last else f"{-math.log2(max(p_next[i], 1e-300)):.6g}"])
        atomic_write_text(output, buf.getvalue())
    return output, summary
