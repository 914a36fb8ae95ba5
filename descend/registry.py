"""A registry: one table name → factory per kind of thing a config can name (optimisers, presets, data sets…).

A :class:`Registry` keeps its names in registration order, optional aliases for each name, and a dict of
free-form ``info`` per entry (a preset's default widths, an activation's config arguments, a note for the
config comment). Looking up an unknown name raises a one-line ``ValueError`` that names the nearest valid
name (``difflib``) and lists them all::

    OPTIMIZERS = Registry("optimizer")

    @OPTIMIZERS.register("sgd")
    def sgd(params, cfg): ...

    OPTIMIZERS.get("sdg")   # ValueError: unknown optimizer 'sdg' (valid: sgd, ...); did you mean 'sgd'?

This module depends on nothing else in descend, so every layer (data, the app, the diagnostics) can keep its
registries with it.
"""

from __future__ import annotations

import difflib

__all__ = ["Registry"]


class Registry:
    """Name → factory, in registration order; ``kind`` names the things in error messages."""

    def __init__(self, kind: str):
        if not isinstance(kind, str) or not kind:
            raise TypeError(f"Registry kind must be a non-empty string, got {kind!r}")
        self.kind = kind
        self._factories: dict[str, object] = {}
        self._info: dict[str, dict] = {}
        self._aliases: dict[str, str] = {}

    # ---------------------------------------------------------------- registering
    def register(self, name: str, factory=None, *, aliases=(), replace: bool = False, **info):
        """Register ``factory`` under ``name`` (and ``aliases``); returns the factory. Without a factory it
        returns a decorator. ``replace=True`` allows registering a name again; ``info`` is kept per entry."""
        if not isinstance(name, str) or not name:
            raise TypeError(f"a {self.kind} name must be a non-empty string, got {name!r}")
        if factory is None:
            return lambda f: self.register(name, f, aliases=aliases, replace=replace, **info)
        if not callable(factory):
            raise TypeError(f"the factory for {self.kind} {name!r} must be callable, got {type(factory).__name__}")
        taken = [n for n in (name, *aliases) if n in self._factories or n in self._aliases]
        if taken and not replace:
            raise ValueError(f"{self.kind} {taken[0]!r} is already registered; pass replace=True to override it")
        self._factories[name] = factory
        self._info[name] = dict(info)
        for alias in aliases:
            self._aliases[alias] = name
        return factory

    def unregister(self, name: str) -> None:
        """Remove ``name`` and its aliases (e.g. a test's temporary entry)."""
        name = self.resolve(name)
        del self._factories[name], self._info[name]
        self._aliases = {a: n for a, n in self._aliases.items() if n != name}

    # ---------------------------------------------------------------- looking up
    def names(self) -> tuple:
        """The registered names (not the aliases), in registration order."""
        return tuple(self._factories)

    def resolve(self, name: str) -> str:
        """The registered name for ``name`` or one of its aliases; unknown names raise ``ValueError``."""
        if name in self._factories:
            return name
        if name in self._aliases:
            return self._aliases[name]
        raise ValueError(self.unknown_message(name))

    def get(self, name: str):
        """The factory registered as ``name`` (or an alias of it)."""
        return self._factories[self.resolve(name)]

    def info(self, name: str) -> dict:
        """The ``info`` given when ``name`` was registered."""
        return self._info[self.resolve(name)]

    def build(self, name: str, *args, **kwargs):
        """``get(name)(*args, **kwargs)``."""
        return self.get(name)(*args, **kwargs)

    def unknown_message(self, name) -> str:
        """One line: the unknown name, the nearest valid one and the list of valid names."""
        close = difflib.get_close_matches(str(name), [*self._factories, *self._aliases], n=1, cutoff=0.5)
        hint = f"; did you mean {self._aliases.get(close[0], close[0])!r}?" if close else ""
        return f"unknown {self.kind} {name!r} (valid: {', '.join(self._factories)}){hint}"

    def __contains__(self, name) -> bool:
        return name in self._factories or name in self._aliases

    def __iter__(self):
        return iter(self._factories)

    def __len__(self) -> int:
        return len(self._factories)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {list(self._factories)})"
