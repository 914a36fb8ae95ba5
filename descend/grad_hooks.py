"""Gradient hooks on tensors, as PyTorch's ``Tensor.register_hook`` and
``Tensor.register_post_accumulate_grad_hook``.

* ``t.register_hook(hook)``: ``hook(grad) -> Tensor or None`` is called each time backward has computed the
  gradient dL/dt (the sum over every path to t); a Tensor it returns replaces that gradient, for ``t.grad``
  when t is a leaf and for what flows on to t's inputs otherwise.
* ``leaf.register_post_accumulate_grad_hook(hook)``: ``hook(leaf) -> None`` is called right after backward
  has accumulated the leaf's gradient into ``leaf.grad`` (leaves only; DistributedDataParallel uses it to
  start a bucket's allreduce as soon as its gradients are in place).

Both return a handle whose ``remove()`` unregisters the hook. A leaf keeps its hooks in its ``_hooks``
slot (unset until one is registered), a computed tensor in its graph node, so hooks go with their tensor
(a hook may refer to its own tensor without keeping it alive for ever). While none is registered the
backward walk takes its usual path (one test per backward); once one is, leaves are accumulated as soon
as their gradient is complete (right after their earliest use in the forward is back-propagated)
instead of all at the end.
"""

from __future__ import annotations

import itertools
import weakref

__all__ = ["RemovableHandle", "register_hook", "register_post_accumulate_grad_hook", "active"]

_hooked: dict = {}   # id(leaf) -> weak reference, for every leaf with a hook (to know whether any is set)
_ids = itertools.count()


class _Count:
    nodes = 0    # hooks registered on graph nodes (computed tensors) and not yet removed or freed


def active() -> bool:
    """Whether any gradient hook is registered (the backward walk then looks for them)."""
    return _Count.nodes > 0 or bool(_hooked)


def _forget(tensor) -> None:
    _hooked.pop(id(tensor), None)


class RemovableHandle:
    """What ``register_hook`` returns: ``remove()`` unregisters the hook (also as a context manager)."""

    def __init__(self, table: dict, node=None, leaf=None):
        self.id = next(_ids)
        self._table, self._node = table, node
        self._leaf = None if leaf is None else weakref.ref(leaf)

    def remove(self) -> None:
        if self._table.pop(self.id, None) is None:
            return
        if self._node is not None:
            _Count.nodes -= 1
        leaf = None if self._leaf is None else self._leaf()
        if leaf is not None and not any(leaf._hooks):
            _forget(leaf)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
        return False


def _leaf_tables(tensor) -> tuple:
    """The leaf's (register_hook hooks, post-accumulate hooks), made on first use."""
    tables = getattr(tensor, "_hooks", None)
    if tables is None:
        tables = tensor._hooks = ({}, {})
    key = id(tensor)
    if key not in _hooked:
        _hooked[key] = weakref.ref(tensor, lambda ref, key=key: _hooked.pop(key, None))
    return tables


def _check(tensor, hook, what: str):
    if not callable(hook):
        raise TypeError(f"{what} needs a callable hook, got {hook!r}")
    if not tensor.requires_grad:
        raise RuntimeError(f"cannot register a hook on a tensor that doesn't require gradient; call "
                           f"{what} on a tensor with requires_grad=True (or computed from one)")


def register_hook(tensor, hook) -> RemovableHandle:
    """``tensor.register_hook(hook)``: see the module docstring."""
    _check(tensor, hook, "register_hook")
    node = tensor._node
    if node is None:
        table = _leaf_tables(tensor)[0]
        handle = RemovableHandle(table, leaf=tensor)
    else:
        table = getattr(node, "hooks", None)
        if table is None:
            table = node.hooks = {}
        handle = RemovableHandle(table, node)
    table[handle.id] = hook
    if node is not None:
        _Count.nodes += 1
    return handle


def register_post_accumulate_grad_hook(tensor, hook) -> RemovableHandle:
    """``leaf.register_post_accumulate_grad_hook(hook)``: see the module docstring."""
    _check(tensor, hook, "register_post_accumulate_grad_hook")
    if tensor._node is not None:
        raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors; register it on "
                           "the leaf (a parameter), or use register_hook")
    table = _leaf_tables(tensor)[1]
    handle = RemovableHandle(table, leaf=tensor)
    table[handle.id] = hook
    return handle


def apply(hooks: dict, g, shape):
    """Run ``hook(grad)`` for each hook in ``hooks``, in registration order; a returned Tensor (or array)
    replaces the gradient."""
    from .tensor import Tensor
    for hook in list(hooks.values()):
        result = hook(Tensor.from_array(g))
        if result is not None:
            g = result.array if isinstance(result, Tensor) else result
            if getattr(g, "shape", None) != shape:
                raise RuntimeError(f"a gradient hook returned a gradient of shape {getattr(g, 'shape', None)} for "
                                   f"a tensor of shape {shape}; return one of the same shape (or None)")
    return g


def leaf_hooks(tensor):
    """(the leaf's register_hook hooks, its post-accumulate hooks): two dicts, or (None, None)."""
    return getattr(tensor, "_hooks", None) or (None, None)


def node_freed(node) -> None:
    """Backward freed ``node``: its hooks go with it."""
    hooks = getattr(node, "hooks", None)
    if hooks:
        _Count.nodes -= len(hooks)
        hooks.clear()
