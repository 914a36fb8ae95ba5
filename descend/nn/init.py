"""Weight initialisation, in place (PyTorch's ``torch.nn.init`` names and formulas).

For a weight of shape (out, in, *kernel), fan_in = in·∏kernel and fan_out = out·∏kernel.

* Glorot / Xavier (Glorot & Bengio, 2010): Var w = gain² · 2 / (fan_in + fan_out);
  uniform on ±gain·√(6 / (fan_in + fan_out)) or normal with std gain·√(2 / (fan_in + fan_out)).
* He / Kaiming (He et al., 2015): Var w = gain² / fan (fan = fan_in or fan_out);
  uniform on ±gain·√(3 / fan) or normal with std gain / √fan.
* LeCun normal (LeCun et al., 1998): std √(1 / fan_in) (a plain normal; Keras truncates it).
* Orthogonal (Saxe et al., 2014): the Q of a QR decomposition of a Gaussian matrix (signs fixed by
  R's diagonal so the draw is uniform), times gain.

``calculate_gain`` gives PyTorch's gains (tanh 5/3, relu √2, leaky_relu √(2 / (1 + a²)), selu 3/4,
1 for linear/sigmoid/conv); as an extension 'gelu' and 'silu' get √2, the ReLU gain.
Random draws use ``descend.random.default_generator()`` unless ``generator=`` is given.
"""

from __future__ import annotations

import math

import numpy as np

from .. import random as _random
from ..tensor import Tensor

__all__ = ["calculate_gain", "uniform_", "normal_", "constant_", "zeros_", "ones_", "xavier_uniform_",
           "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "lecun_normal_", "orthogonal_",
           "init_for_activation", "glorot_uniform_", "glorot_normal_", "he_uniform_", "he_normal_"]

_LINEAR_GAINS = ("linear", "identity", "none", "sigmoid", "softmax", "conv1d", "conv2d", "conv3d",
                 "conv_transpose1d", "conv_transpose2d", "conv_transpose3d")


def calculate_gain(nonlinearity: str, param=None) -> float:
    """The recommended gain for ``nonlinearity`` (see the module docs); ``param`` is leaky_relu's slope."""
    name = "none" if nonlinearity is None else str(nonlinearity).lower()
    if name in _LINEAR_GAINS:
        return 1.0
    if name == "tanh":
        return 5.0 / 3.0
    if name in ("relu", "gelu", "silu", "swish"):
        return math.sqrt(2.0)
    if name == "leaky_relu":
        slope = 0.01 if param is None else param
        if isinstance(slope, bool) or not isinstance(slope, (int, float)):
            raise ValueError(f"calculate_gain: leaky_relu slope must be a number, got {slope!r}")
        return math.sqrt(2.0 / (1.0 + slope ** 2))
    if name == "selu":
        return 3.0 / 4.0
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}; use one of linear, sigmoid, "
                     "tanh, relu, leaky_relu, selu, gelu, silu or a conv name")


def _fans(tensor) -> tuple[int, int]:
    shape = _data(tensor).shape
    if len(shape) < 2:
        raise ValueError(f"fan in and fan out need a tensor with at least 2 dimensions, got shape {shape}; "
                         "initialise biases with zeros_ or uniform_")
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def _data(tensor) -> np.ndarray:
    if isinstance(tensor, Tensor):
        return tensor.array
    if isinstance(tensor, np.ndarray):
        return tensor
    raise TypeError(f"init functions fill a Tensor or ndarray in place, got {type(tensor).__name__}")


def _fill(tensor, values):
    arr = _data(tensor)
    arr[...] = values.astype(arr.dtype, copy=False) if isinstance(values, np.ndarray) else values
    return tensor


def _rng(generator):
    return generator if generator is not None else _random.default_generator()


def _mode_fan(tensor, mode):
    fan_in, fan_out = _fans(tensor)
    if mode == "fan_in":
        return fan_in
    if mode == "fan_out":
        return fan_out
    raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")


def uniform_(tensor, a: float = 0.0, b: float = 1.0, generator=None):
    """Fill with U(a, b)."""
    if not a <= b:
        raise ValueError(f"uniform_: need a ≤ b, got a={a}, b={b}")
    return _fill(tensor, _rng(generator).uniform(a, b, _data(tensor).shape))


def normal_(tensor, mean: float = 0.0, std: float = 1.0, generator=None):
    """Fill with N(mean, std²)."""
    if std < 0:
        raise ValueError(f"normal_: std must be ≥ 0, got {std}")
    return _fill(tensor, _rng(generator).normal(mean, std, _data(tensor).shape))


def constant_(tensor, val: float):
    return _fill(tensor, val)


def zeros_(tensor):
    return _fill(tensor, 0)


def ones_(tensor):
    return _fill(tensor, 1)


def default_layer_init_(weight, bias=None, generator=None):
    """The default of Linear and Conv2d (as PyTorch's): W ~ kaiming_uniform(a=√5) = U(±1/√fan_in), and
    b ~ U(±1/√fan_in), fan_in = in_features (or in_channels · kh · kw)."""
    kaiming_uniform_(weight, a=math.sqrt(5), generator=generator)
    if bias is not None:
        bound = 1.0 / math.sqrt(_fans(weight)[0])
        uniform_(bias, -bound, bound, generator)


def xavier_uniform_(tensor, gain: float = 1.0, generator=None):
    """Glorot uniform: U(±gain·√(6 / (fan_in + fan_out)))."""
    fan_in, fan_out = _fans(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor, gain: float = 1.0, generator=None):
    """Glorot normal: N(0, gain² · 2 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


def kaiming_uniform_(tensor, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", generator=None):
    """He uniform: U(±gain·√(3 / fan)), gain = calculate_gain(nonlinearity, a)."""
    fan = _mode_fan(tensor, mode)
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / fan)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", generator=None):
    """He normal: N(0, gain² / fan), gain = calculate_gain(nonlinearity, a)."""
    fan = _mode_fan(tensor, mode)
    return normal_(tensor, 0.0, calculate_gain(nonlinearity, a) / math.sqrt(fan), generator)


def lecun_normal_(tensor, generator=None):
    """LeCun normal: N(0, 1 / fan_in) (suits SELU and tanh-like units)."""
    fan_in, _ = _fans(tensor)
    return normal_(tensor, 0.0, math.sqrt(1.0 / fan_in), generator)


def orthogonal_(tensor, gain: float = 1.0, generator=None):
    """A (semi-)orthogonal matrix times ``gain``; higher-dimensional weights are flattened to
    (shape[0], rest). Rows are orthonormal when rows ≤ cols, columns otherwise."""
    arr = _data(tensor)
    if arr.ndim < 2:
        raise ValueError(f"orthogonal_ needs a tensor with at least 2 dimensions, got shape {arr.shape}")
    rows, cols = arr.shape[0], arr.size // arr.shape[0]
    flat = _rng(generator).standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _fill(tensor, (gain * q).reshape(arr.shape))


glorot_uniform_, glorot_normal_ = xavier_uniform_, xavier_normal_
he_uniform_, he_normal_ = kaiming_uniform_, kaiming_normal_

_GLOROT = ("none", "linear", "identity", "tanh", "sigmoid", "softmax")
_HE = ("relu", "gelu", "silu", "swish", "leaky_relu", "elu")


def init_for_activation(model, activation: str = "relu", distribution: str = "normal", negative_slope: float = 0.01,
                        generator=None):
    """Initialise every Linear and Conv2d in ``model`` for the activation that follows it, biases zero.

    Glorot (gain 1) for none/linear/tanh/sigmoid/softmax; He with fan_in for relu/gelu/silu/elu and
    leaky_relu (gain √(2 / (1 + slope²))). ``distribution`` is 'normal' or 'uniform'. Returns ``model``.
    """
    from .conv import Conv2d
    from .linear import Linear

    act = "none" if activation is None else str(activation).lower()
    if act not in _GLOROT + _HE:
        raise ValueError(f"init_for_activation: unknown activation {activation!r}; use one of {_GLOROT + _HE}")
    if distribution not in ("normal", "uniform"):
        raise ValueError(f"init_for_activation: distribution must be 'normal' or 'uniform', got {distribution!r}")
    for module in model.modules():
        if not isinstance(module, (Linear, Conv2d)):
            continue
        if act in _GLOROT:
            (xavier_normal_ if distribution == "normal" else xavier_uniform_)(module.weight, 1.0, generator)
        else:
            nonlin = "leaky_relu" if act == "leaky_relu" else "relu"
            fn = kaiming_normal_ if distribution == "normal" else kaiming_uniform_
            fn(module.weight, negative_slope if nonlin == "leaky_relu" else 0, "fan_in", nonlin, generator)
        if module.bias is not None:
            zeros_(module.bias)
    return model
