"""Containers: ``Sequential`` (children run in order), ``ModuleList`` and ``ModuleDict`` (children held
for registration only).

``Sequential`` names its children ``"0"``, ``"1"``, … as PyTorch does, so state-dict keys (``"0.weight"``)
match those of the same ``torch.nn.Sequential``.
"""

from __future__ import annotations

from collections import OrderedDict

from .fusion import fusion_plan, structure_changed, structure_version
from .module import Module

__all__ = ["Sequential", "ModuleList", "ModuleDict"]


def _check_module(m, where):
    if not isinstance(m, Module):
        raise TypeError(f"{where} holds Modules only, got {type(m).__name__} ({m!r}); wrap functions in a Module "
                        "or use an activation module such as nn.ReLU()")
    return m


class _Indexed(Module):
    """Shared indexing for containers whose children are named by position."""

    def _index(self, idx: int) -> str:
        n = len(self._modules)
        if not -n <= idx < n:
            raise IndexError(f"index {idx} is out of range for a {type(self).__name__} of length {n}")
        return list(self._modules)[idx % n]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)(*list(self._modules.values())[idx]) if isinstance(self, Sequential) else \
                ModuleList(list(self._modules.values())[idx])
        return self._modules[self._index(idx)]

    def __setitem__(self, idx, module):
        self._modules[self._index(idx)] = _check_module(module, type(self).__name__)
        structure_changed()

    def __delitem__(self, idx):
        keys = list(self._modules)
        drop = keys[idx] if isinstance(idx, slice) else [self._index(idx)]
        for k in drop:
            del self._modules[k]
        # renumber so names stay 0..n-1 (as PyTorch does)
        items = list(self._modules.values())
        self._modules.clear()
        for i, m in enumerate(items):
            self._modules[str(i)] = m
        structure_changed()

    def append(self, module) -> "_Indexed":
        self.add_module(str(len(self._modules)), _check_module(module, type(self).__name__))
        return self

    def extend(self, modules) -> "_Indexed":
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module) -> None:
        items = list(self._modules.values())
        items.insert(index, _check_module(module, type(self).__name__))
        self._modules.clear()
        for i, m in enumerate(items):
            self._modules[str(i)] = m
        structure_changed()


class Sequential(_Indexed):
    """Run children in order: ``Sequential(Linear(4, 8), ReLU(), Linear(8, 2))``.

    Children are named ``"0"``, ``"1"``, …; pass one ``OrderedDict`` to name them yourself. A child that
    declares it can absorb the next one (:meth:`Module.fuse_next <descend.nn.Module.fuse_next>`, the
    fusion seam of :mod:`descend.nn.fusion`) runs the pair as one operation: a Linear or Conv2d (or a
    subclass that keeps their ``forward``) followed by a ReLU runs as ``linear_relu`` / ``conv2d_relu``, the
    same values bit for bit in one graph node. A pair where either module has forward hooks or an
    instance ``forward`` runs apart. The plan is built once and rebuilt when children, hooks or an
    instance ``forward`` change (:func:`~descend.nn.fusion.structure_version`).
    """

    _plan = None            # the fusion plan (a tuple of steps) and the structure version it was built under
    _plan_version = -1

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], (OrderedDict, dict)):
            for name, m in modules[0].items():
                self.add_module(name, _check_module(m, "Sequential"))
        else:
            for i, m in enumerate(modules):
                self.add_module(str(i), _check_module(m, "Sequential"))

    def forward(self, x):
        plan = self._plan
        if plan is None or self._plan_version != structure_version():
            plan = fusion_plan(self._modules.values())
            object.__setattr__(self, "_plan", plan)
            object.__setattr__(self, "_plan_version", structure_version())
        for step in plan:
            x = step(x)
        return x

    def __getstate__(self):
        # the plan's fused steps are closures over these children: a copy or a pickle builds its own
        state = self.__dict__.copy()
        state.pop("_plan", None)
        state.pop("_plan_version", None)
        return state


class ModuleList(_Indexed):
    """A list of modules whose parameters are registered (children ``"0"``, ``"1"``, …); it has no forward."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleList has no forward(); iterate over it in your module's forward")


class ModuleDict(Module):
    """A dict of named modules whose parameters are registered; it has no forward."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            for name, m in dict(modules).items():
                self[name] = m

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        self.add_module(key, _check_module(module, "ModuleDict"))

    def __delitem__(self, key):
        del self._modules[key]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key):
        return key in self._modules

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleDict has no forward(); index it in your module's forward")
