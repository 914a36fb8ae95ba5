"""Plain text for character-level language models: ``load_text(path, context=64)``.

The text (UTF-8) is cut into its characters; the vocabulary is the sorted set of distinct characters and
each character becomes its index in it. The last ``test_fraction`` of the text is the test part, the
``val_fraction`` before it the validation part (contiguous pieces, so no window overlaps another part),
and each part is cut into non-overlapping windows of ``context`` characters:

    x[i] = ids[i·T : i·T + T],   y[i] = ids[i·T + 1 : i·T + T + 1]      (T = context)

so the target at every step is the next character. The task is ``"language-model"``; ``class_names`` is
the vocabulary (one character each), ``num_outputs`` its size.
"""

from __future__ import annotations

import os

import numpy as np

from .splits import DataSplits

__all__ = ["TEXT_SUFFIXES", "encode", "decode", "text_windows", "load_text"]

#: File suffixes read as plain text (``data.path = "book.txt"``).
TEXT_SUFFIXES = (".txt", ".md", ".text")


def encode(text: str, vocab) -> np.ndarray:
    """The int64 indices of ``text``'s characters in ``vocab`` (a string or list of characters); a character
    outside the vocabulary raises ValueError naming it."""
    index = {c: i for i, c in enumerate(vocab)}
    missing = sorted(set(text) - set(index))
    if missing:
        raise ValueError(f"characters {''.join(missing)!r} are not in the model's vocabulary; use only "
                         f"characters of the training text")
    return np.fromiter((index[c] for c in text), dtype=np.int64, count=len(text))


def decode(ids, vocab) -> str:
    """The text of a sequence of indices into ``vocab``."""
    return "".join(vocab[int(i)] for i in np.asarray(ids).reshape(-1))


def text_windows(ids: np.ndarray, context: int):
    """(x, y) of non-overlapping windows: x ``(N, context)`` and y the same shifted by one character."""
    n = (len(ids) - 1) // context
    if n < 1:
        raise ValueError(f"a text part of {len(ids)} characters is shorter than data.context + 1 = "
                         f"{context + 1}; give more text or a smaller data.context")
    x = ids[: n * context].reshape(n, context)
    y = ids[1: n * context + 1].reshape(n, context)
    return x, y


def load_text(path, context: int = 64, val_fraction: float = 0.1, test_fraction: float = 0.1,
              seed: int = 0) -> DataSplits:
    """A UTF-8 text file as next-character windows (see the module docstring); ``seed`` is accepted for a
    common reader signature and unused (the parts are contiguous)."""
    path = os.fspath(path)
    if isinstance(context, bool) or not isinstance(context, (int, np.integer)) or context < 1:
        raise ValueError(f"context must be a positive integer (characters per window), got {context!r}")
    for name, f in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0 <= f < 1:
            raise ValueError(f"{name} must be in [0, 1), got {f!r}")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"text file not found: {path}")
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    vocab = sorted(set(text))
    if len(vocab) < 2:
        raise ValueError(f"{path} holds {len(vocab)} distinct characters; a language model needs at least 2")
    ids = encode(text, vocab)
    n_test, n_val = int(len(ids) * test_fraction), int(len(ids) * val_fraction)
    n_train = len(ids) - n_test - n_val
    parts = [ids[:n_train], ids[n_train:n_train + n_val], ids[n_train + n_val:]]
    x, y = text_windows(parts[0], context)
    (xv, yv), (xt, yt) = [text_windows(p, context) if len(p) else (None, None) for p in parts[1:]]
    splits = DataSplits(x, y, xv, yv, xt, yt, task="language-model", num_classes=len(vocab),
                        class_names=vocab, name=os.path.splitext(os.path.basename(path))[0],
                        extra={"vocab": "".join(vocab), "characters": int(len(ids))})
    return splits.validate()
