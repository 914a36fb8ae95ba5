"""Fusion: a layer declares that it can absorb the module that follows it, and containers ask it.

The seam is one method, :meth:`Module.fuse_next(module) <descend.nn.Module.fuse_next>`: given the module
that will run directly after it, a layer returns a function ``f`` with ``f(x)`` equal, bit for bit, to
``module(self(x))`` (one graph node, no intermediate array), or ``None`` when it cannot. The base
``Module`` returns ``None``; :class:`~descend.nn.Linear` and :class:`~descend.nn.Conv2d` return
``linear_relu`` / ``conv2d_relu`` for a following :class:`~descend.nn.ReLU` (exactly that class), as long
as their class does not override ``forward``.

A pair is only asked when calling both modules would run just their classes' ``forward``: no forward
(pre-)hooks and no ``forward`` set on the instance (:func:`runs_forward_only`). Everything that can
change that — a hook added or removed, a child added, replaced or removed, ``forward`` set or deleted on
an instance — calls :func:`structure_changed`, so a container can keep its plan (:func:`fusion_plan`)
until :func:`structure_version` moves on. :class:`~descend.nn.Sequential` does so; a user module runs
any list of modules the same way with :func:`run_fused`.
"""

from __future__ import annotations

__all__ = ["fusion_plan", "run_fused", "runs_forward_only", "structure_changed", "structure_version"]


class _Structure:
    version = 0


def structure_changed() -> None:
    """Record that what calling some module runs may have changed (hooks, children, an instance's
    ``forward``): every cached :func:`fusion_plan` is rebuilt before its next use."""
    _Structure.version += 1


def structure_version() -> int:
    """A number that changes whenever :func:`structure_changed` is called: a plan built under one version
    is valid while the version is the same."""
    return _Structure.version


def runs_forward_only(module) -> bool:
    """Whether calling ``module`` runs just its class's ``forward``: no forward hooks or pre-hooks and no
    ``forward`` replaced on the instance."""
    return not (module._forward_hooks or module._forward_pre_hooks or "forward" in module.__dict__)


def fusion_plan(modules) -> tuple:
    """The steps that run ``modules`` (a sequence of Modules) in order: each step is a callable of one
    argument, either a module itself or the function that ``modules[i].fuse_next(modules[i + 1])``
    returned for a pair (both :func:`runs_forward_only`). ``for step in plan: x = step(x)`` gives the
    values of running the modules one after another, bit for bit.

    The plan holds the modules, not their parameters (a replaced weight is seen); rebuild it when
    :func:`structure_version` changes."""
    modules = tuple(modules)
    for m in modules:
        if not callable(getattr(m, "fuse_next", None)):
            raise TypeError(f"fusion_plan needs Modules, got {type(m).__name__} ({m!r}); wrap functions in a "
                            "Module")
    steps, i, n = [], 0, len(modules)
    while i < n:
        m = modules[i]
        if i + 1 < n and runs_forward_only(m) and runs_forward_only(modules[i + 1]):
            fused = m.fuse_next(modules[i + 1])
            if fused is not None:
                steps.append(fused)
                i += 2
                continue
        steps.append(m)
        i += 1
    return tuple(steps)


def run_fused(modules, x):
    """Run ``modules`` one after another on ``x``, each fusable pair as one operation (see
    :func:`fusion_plan`, built afresh on every call: keep the plan yourself, keyed on
    :func:`structure_version`, if the few checks per pair matter)."""
    for step in fusion_plan(modules):
        x = step(x)
    return x
