"""Functional forms of every differentiable operation (``import descend.nn.functional as F``)."""

from ..ops import *  # noqa: F401,F403  (the primitives, re-exported under their PyTorch names)
clamp = clip  # noqa: F405
