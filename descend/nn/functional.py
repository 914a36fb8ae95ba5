"""Functional forms of every differentiable operation (``import descend.nn.functional as F``)."""

from ..ops import *  # noqa: F401,F403  (the primitives, re-exported under their PyTorch names)
clamp = clip  # noqa: F405
from ..ops.loss import *  # noqa: F401,F403  (mse_loss, cross_entropy, ...)
from ..ops.normalization import batch_norm, layer_norm  # noqa: F401
from ..ops.conv import conv2d, conv2d_relu  # noqa: F401,E402
from ..ops.pooling import adaptive_avg_pool2d, avg_pool2d, max_pool2d  # noqa: F401,E402
from ..ops.dropout import dropout, dropout2d  # noqa: F401,E402
from .embedding import embedding  # noqa: F401,E402
from ..ops.penalty import l1_penalty  # noqa: F401,E402
from ..ops.attention import scaled_dot_product_attention  # noqa: F401,E402
