"""Functional forms of every differentiable operation (``import descend.nn.functional as F``)."""

from ..ops import *  # noqa: F401,F403  (the primitives, re-exported under their PyTorch names)
clamp = clip  # noqa: F405
from ..ops.loss import (binary_cross_entropy, binary_cross_entropy_with_logits, huber_loss,  # noqa: F401
                        l1_loss, mse_loss, smooth_l1_loss)
from ..ops.class_loss import cross_entropy, nll_loss  # noqa: F401
from ..ops.normalization import batch_norm, layer_norm  # noqa: F401
from ..ops.conv import conv2d, conv2d_relu  # noqa: F401,E402
from ..ops.pooling import adaptive_avg_pool2d, avg_pool2d, max_pool2d  # noqa: F401,E402
from ..ops.dropout import dropout, dropout2d  # noqa: F401,E402
from .embedding import embedding  # noqa: F401,E402
from ..ops.penalty import l1_penalty  # noqa: F401,E402
from ..ops.attention import scaled_dot_product_attention  # noqa: F401,E402


def one_hot(tensor, num_classes=-1):
    """Integer class indices of any shape -> int64 one-hot rows of length ``num_classes`` (a new last
    dimension); ``num_classes=-1`` takes max index + 1, as PyTorch's ``F.one_hot``. Not differentiable."""
    import numpy as np
    from ..tensor import Tensor
    idx = np.asarray(tensor.array if isinstance(tensor, Tensor) else tensor)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"one_hot takes an integer index tensor, got dtype {idx.dtype}; use .long()")
    if idx.size and idx.min() < 0:
        raise ValueError(f"one_hot: class indices must be non-negative, got {int(idx.min())}")
    if num_classes == -1:
        num_classes = int(idx.max()) + 1 if idx.size else 0
    if not isinstance(num_classes, int) or num_classes < 0:
        raise ValueError(f"one_hot: num_classes must be -1 or a non-negative integer, got {num_classes!r}")
    if idx.size and idx.max() >= num_classes:
        raise ValueError(f"one_hot: class index {int(idx.max())} is out of range for num_classes={num_classes}")
    out = np.zeros(idx.shape + (num_classes,), dtype=np.int64)
    np.put_along_axis(out, idx[..., None].astype(np.int64), 1, axis=-1)
    return Tensor.from_array(out)


def __getattr__(name):
    from ..unsupported import unsupported
    raise unsupported("descend.nn.functional", "torch.nn.functional", name)
