"""Random number generation: one seedable generator behind initialisation, dropout and augmentation.

``descend.manual_seed(seed)`` reseeds it; ``get_rng_state()`` / ``set_rng_state(state)`` save and restore
it as a JSON-friendly dict, so a resumed run draws the same numbers as an uninterrupted one. Components
that need their own stream (a DataLoader's shuffling) take a ``seed`` and keep a generator of their own.
"""

from __future__ import annotations

import copy

import numpy as np

_generator = np.random.default_rng(0)


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the default generator (PCG64) and return it."""
    global _generator
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    _generator = np.random.default_rng(int(seed))
    return _generator


def default_generator() -> np.random.Generator:
    """The generator used when no ``generator=`` is passed."""
    return _generator


def get_rng_state() -> dict:
    """The default generator's state (a dict of ints and strings: JSON-serialisable)."""
    return copy.deepcopy(_generator.bit_generator.state)


def set_rng_state(state: dict) -> None:
    """Restore a state returned by :func:`get_rng_state`."""
    _generator.bit_generator.state = copy.deepcopy(state)


def generator_state(gen: np.random.Generator) -> dict:
    return copy.deepcopy(gen.bit_generator.state)


def restore_generator(gen: np.random.Generator, state: dict) -> None:
    gen.bit_generator.state = copy.deepcopy(state)
