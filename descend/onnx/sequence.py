"""ONNX converters for descend's sequence layers (filled in below)."""

from __future__ import annotations

CONVERTERS: dict = {}


def default_axes(model, axes: dict) -> dict:
    """The default symbolic axes for ``model``'s input/output (batch on axis 0)."""
    return axes
