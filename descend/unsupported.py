"""The error raised for PyTorch API that descend does not have (yet).

``descend.foo``, ``descend.nn.functional.foo`` and ``tensor.foo`` for a name descend lacks raise
:class:`UnsupportedError`, an ``AttributeError`` (so ``hasattr`` and ``getattr(obj, name, default)``
still work) whose message names the missing function and points at ``docs/from-pytorch.md``.
"""

from __future__ import annotations

DOC = "docs/from-pytorch.md"


class UnsupportedError(AttributeError):
    """A PyTorch name descend does not provide."""


def unsupported(owner: str, torch_owner: str, name: str, obj=None) -> AttributeError:
    """The error for ``owner.name`` (PyTorch's ``torch_owner.name``); a plain AttributeError for dunders."""
    if name.startswith("__") and name.endswith("__"):
        return AttributeError(f"{owner} has no attribute {name!r}")
    err = UnsupportedError(f"{owner}.{name} is not supported: descend has no counterpart of {torch_owner}.{name} "
                           f"yet; see {DOC} for what is supported and what to use instead")
    err.name, err.obj = name, obj
    return err
