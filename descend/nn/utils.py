"""``descend.nn.utils``: gradient clipping under PyTorch's path (the code lives in descend.optim.clip)."""

from ..optim.clip import clip_grad_norm_, clip_grad_value_

__all__ = ["clip_grad_norm_", "clip_grad_value_"]
