"""``descend.nn.utils``: gradient clipping (the code lives in descend.optim.clip) and, in
:mod:`descend.nn.utils.rnn`, padding and packing of variable-length batches, under PyTorch's paths."""

from ...optim.clip import clip_grad_norm_, clip_grad_value_
from . import rnn

__all__ = ["clip_grad_norm_", "clip_grad_value_", "rnn"]
