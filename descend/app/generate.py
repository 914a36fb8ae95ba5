"""Sampling text from a trained character-level language model: ``generate_text(run_dir, prompt, length)``.

Each new character is drawn from softmax(s / τ) over the scores s the model gives at the last step of the
window (the last ``data.context`` characters so far), τ the temperature; ``top_k=k`` keeps only the k
highest scores first (the others get probability 0); τ = 0 takes the highest score (greedy).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..autograd import no_grad
from ..creation import as_tensor
from ..data.text import decode, encode
from .run_folder import load_run

__all__ = ["generate_text", "sample_next"]


def sample_next(scores: np.ndarray, temperature: float, top_k: int | None, rng) -> int:
    """One index drawn from softmax(scores / temperature) restricted to the ``top_k`` best (greedy at 0)."""
    scores = np.asarray(scores, dtype=np.float64)
    if temperature == 0:
        return int(np.argmax(scores))
    if top_k is not None and top_k < len(scores):
        cut = np.partition(scores, -top_k)[-top_k]
        scores = np.where(scores >= cut, scores, -np.inf)
    z = scores / temperature
    p = np.exp(z - z.max())
    return int(rng.choice(len(p), p=p / p.sum()))


def generate_text(run_dir, prompt: str = "", length: int = 200, temperature: float = 1.0,
                  top_k: int | None = None, seed: int = 0) -> str:
    """The prompt followed by ``length`` characters sampled from the language model of ``run_dir``
    (``seed`` fixes the draws; without a prompt the model starts from a random character of its vocabulary)."""
    if not isinstance(prompt, str):
        raise TypeError(f"prompt must be a string, got {type(prompt).__name__}")
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 0:
        raise ValueError(f"length must be a non-negative integer (characters to generate), got {length!r}")
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not temperature >= 0:
        raise ValueError(f"temperature must be a number >= 0 (1: the model's distribution, 0: greedy), "
                         f"got {temperature!r}")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 1):
        raise ValueError(f"top_k must be a positive integer or None, got {top_k!r}")
    cfg, model, meta = load_run(Path(run_dir))
    if meta["task"] != "language-model":
        raise ValueError(f"{str(run_dir)!r} is a {meta['task']} run; generate needs a run trained on a text "
                         f"file (data.path = 'book.txt')")
    vocab = list(meta["class_names"])
    context = int(meta["input_shape"][0])
    rng = np.random.default_rng(seed)
    ids = list(encode(prompt, vocab)) if prompt else [int(rng.integers(len(vocab)))]   # no prompt: a random start
    start = len(ids)
    with no_grad():
        for _ in range(length):
            window = np.asarray(ids[-context:], dtype=np.int64)[None]
            scores = np.asarray(model(as_tensor(window)).array)[0, -1]
            ids.append(sample_next(scores, float(temperature), top_k, rng))
    return prompt + decode(ids[start:], vocab)
