"""PyTorch's ``torch.utils`` namespace: ``descend.utils.data`` holds ``torch.utils.data``'s names."""

from . import data

__all__ = ["data"]
