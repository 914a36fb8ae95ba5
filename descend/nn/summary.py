"""Model summary: each layer's output shape and parameter count, from one forward pass of zeros."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import backend
from ..autograd import no_grad
from ..tensor import Tensor

__all__ = ["summary", "ModelSummary"]


@dataclass
class ModelSummary:
    """What :func:`summary` returns: ``rows`` (dicts with name, type, output_shape, params, in call order)
    and the totals. ``str(summary)`` is the printed table."""

    rows: list = field(default_factory=list)
    total_params: int = 0
    trainable_params: int = 0
    non_trainable_params: int = 0
    input_shape: tuple = ()

    def __str__(self):
        header = ("Layer (type)", "Output shape", "Param #")
        body = [(f"{r['name']} ({r['type']})", str(r["output_shape"]), f"{r['params']:,}") for r in self.rows]
        w0 = max([len(header[0])] + [len(b[0]) for b in body])
        w1 = max([len(header[1])] + [len(b[1]) for b in body])
        w2 = max([len(header[2])] + [len(b[2]) for b in body])
        rule = "─" * (w0 + w1 + w2 + 4)
        lines = [rule, f"{header[0]:<{w0}}  {header[1]:<{w1}}  {header[2]:>{w2}}", rule]
        lines += [f"{a:<{w0}}  {b:<{w1}}  {c:>{w2}}" for a, b, c in body]
        lines += [rule, f"Input shape: {self.input_shape}",
                  f"Total params: {self.total_params:,}", f"Trainable params: {self.trainable_params:,}",
                  f"Non-trainable params: {self.non_trainable_params:,}", rule]
        return "\n".join(lines)


def _shape_of(out):
    if isinstance(out, Tensor):
        return (None,) + tuple(out.shape[1:])
    if isinstance(out, (tuple, list)):
        return [_shape_of(o) for o in out]
    return type(out).__name__


def summary(model, input_shape, print_summary: bool = True, dtype=None, batch_size: int = 2) -> ModelSummary:
    """Tabulate ``model``'s layers: run a zero batch of shape (batch_size, *input_shape) through it in eval
    mode without recording a graph, and list every module that holds parameters directly or has no
    children, in call order, with its output shape (batch shown as None) and parameter count.

    ``input_shape`` excludes the batch dimension (e.g. (1, 28, 28)). Totals count each shared parameter
    once; trainable ones are those with ``requires_grad``. Prints the table unless ``print_summary=False``.
    """
    if isinstance(input_shape, int):
        input_shape = (input_shape,)
    input_shape = tuple(int(s) for s in input_shape)
    if any(s < 1 for s in input_shape):
        raise ValueError(f"summary: input_shape {input_shape} must contain positive sizes (excluding the batch)")
    rows = []
    handles = []
    for name, module in model.named_modules():
        has_own = any(p is not None for p in module._parameters.values())
        is_leaf = not any(m is not None for m in module._modules.values())
        if has_own or is_leaf:
            def hook(mod, inputs, output, _name=name or type(module).__name__):
                rows.append({"name": _name, "type": type(mod).__name__, "output_shape": _shape_of(output),
                             "params": int(sum(p.array.size for p in mod.parameters(recurse=False)))})
            handles.append(module.register_forward_hook(hook))
    was_training = model.training
    first = next(model.parameters(), None)
    dtype = backend.resolve_dtype(dtype) or (first.array.dtype if first is not None else backend.DEFAULT_FLOAT)
    try:
        model.eval()
        with no_grad():
            model(Tensor.from_array(np.zeros((batch_size,) + input_shape, dtype=dtype)))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    params = list(model.parameters())
    total = int(sum(p.array.size for p in params))
    trainable = int(sum(p.array.size for p in params if p.requires_grad))
    result = ModelSummary(rows, total, trainable, total - trainable, input_shape)
    if print_summary:
        print(result)
    return result
