"""The app layer's one exception type (re-exported as ``descend.app.ConfigError``)."""

from __future__ import annotations

__all__ = ["ConfigError"]


class ConfigError(ValueError):
    """A configuration problem; the message is one line naming the key and the fix."""
