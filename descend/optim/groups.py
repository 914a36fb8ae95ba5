"""Parameter groups for weight decay: decay the weights, not the biases and normalisation parameters."""

from __future__ import annotations


def param_groups_weight_decay(model, weight_decay: float = 1e-2, no_decay=()) -> list[dict]:
    """Split a model's parameters into two optimiser groups: with ``weight_decay`` and with none.

    A parameter is left undecayed when it has at most one dimension (biases, LayerNorm/BatchNorm weights)
    or its name contains one of the strings in ``no_decay`` (e.g. ``("embedding",)``). Frozen parameters
    (``requires_grad=False``) are left out. ``model`` is anything with ``named_parameters()`` or an
    iterable of (name, tensor) pairs::

        opt = descend.optim.AdamW(descend.optim.param_groups_weight_decay(model, 0.05), lr=1e-3)
    """
    if not weight_decay >= 0:
        raise ValueError(f"weight_decay must be >= 0, got {weight_decay!r}")
    if isinstance(no_decay, str):
        no_decay = (no_decay,)
    named = model.named_parameters() if hasattr(model, "named_parameters") else model
    decay, keep = [], []
    for name, p in named:
        if not getattr(p, "requires_grad", True):
            continue
        if p.array.ndim <= 1 or any(key in name for key in no_decay):
            keep.append(p)
        else:
            decay.append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": keep, "weight_decay": 0.0}]
