"""Models built from the ``[model]`` section of a config.

``build_model(model_cfg, input_shape, num_outputs)`` returns a ``descend.nn.Sequential`` from either

- ``preset``: a registered preset (:data:`descend.app.registry.PRESETS`: ``mlp``, ``cnn``, ``resnet``; see
  :mod:`descend.app.presets`) that turns the config into layer tables, or
- ``layers``: an explicit list of layer tables (see :func:`descend.app.config.layer_types`), input sizes
  inferred by passing a zero batch through each layer as it is built; a ``linear`` after an image-shaped
  output gets a ``Flatten`` inserted before it. Activation layers come from
  :data:`descend.app.registry.ACTIVATIONS`.

Weights are then initialised per ``model.init`` (``auto``: He for ReLU-like activations, Glorot for
tanh/sigmoid; ``default``: each layer's PyTorch default).
"""

from __future__ import annotations

import numpy as np

from .. import nn
from .errors import ConfigError
from .registry import ACTIVATIONS, PRESETS
from .sequence import SEQUENCE_BLOCKS, SEQUENCE_LAYER_TYPES, sequence_layer
from ..autograd import no_grad
from ..creation import as_tensor

__all__ = ["activation_module", "build_layers", "preset_layers", "initialise", "build_model"]


def activation_module(name: str, **kwargs):
    """The activation module for a config name (``relu``, ``gelu``, ...), from the ACTIVATIONS registry."""
    return ACTIVATIONS.build(name, **kwargs)


def _out_shape(module, shape):
    """Shape (without batch) of ``module``'s output for an input of ``shape``, from a zero batch of 2."""
    was_training = module.training
    module.eval()
    try:
        with no_grad():
            out = module(as_tensor(np.zeros((2, *shape), dtype=np.float32)))
    finally:
        module.train(was_training)
    return tuple(out.shape[1:])


def _layer(spec: dict, shape: tuple, where: str):
    """Build one layer from its table, given the input shape (without batch)."""
    kind = spec["type"]
    args = {k: v for k, v in spec.items() if k != "type"}
    image = len(shape) == 3

    def need_image():
        if not image:
            raise ConfigError(f"{where} ({kind}) needs image input (C, H, W) but gets shape {shape}")

    if kind == "linear":
        return nn.Linear(int(np.prod(shape)) if len(shape) != 1 else shape[0], args.pop("out_features"),
                         **args)
    if kind == "conv2d":
        need_image()
        return nn.Conv2d(shape[0], args.pop("out_channels"), args.pop("kernel_size"), **args)
    if kind == "maxpool2d":
        need_image()
        return nn.MaxPool2d(**args)
    if kind == "avgpool2d":
        need_image()
        return nn.AvgPool2d(**args)
    if kind == "globalavgpool2d":
        need_image()
        return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
    if kind == "flatten":
        return nn.Flatten()
    if kind == "batchnorm":
        return (nn.BatchNorm2d if image else nn.BatchNorm1d)(shape[0], **args)
    if kind == "dropout":
        return nn.Dropout(**args)
    if kind == "dropout2d":
        need_image()
        return nn.Dropout2d(**args)
    if kind == "residual":
        block, out = build_layers(spec["layers"], shape, f"{where}.layers")
        if out != shape:
            raise ConfigError(f"{where} (residual): the block maps shape {shape} to {out}; x + F(x) needs "
                              f"them equal (keep channels and use padding = kernel_size // 2)")
        return nn.Residual(block)
    if kind in SEQUENCE_LAYER_TYPES:
        return sequence_layer(kind, args, shape, where)
    return activation_module(kind, **args)


def build_layers(layers: list, input_shape, where: str = "model.layers"):
    """A Sequential from a list of layer tables; returns (model, output shape without batch)."""
    shape = tuple(input_shape)
    modules = []
    for i, spec in enumerate(layers):
        at = f"{where}[{i}]"
        if spec["type"] == "linear" and len(shape) > 1:
            modules.append(nn.Flatten())
            shape = (int(np.prod(shape)),)
        module = _layer(spec, shape, at)
        try:
            shape = _out_shape(module, shape)
        except ConfigError:
            raise
        except (ValueError, RuntimeError) as exc:
            raise ConfigError(f"{at} ({spec['type']}) cannot take input of shape {shape}: "
                              f"{str(exc).splitlines()[0]}") from None
        modules.append(module)
    return nn.Sequential(*modules), shape


def preset_layers(model_cfg: dict, input_shape, num_outputs: int) -> list:
    """The layer tables of the registered preset ``model_cfg["preset"]`` for this input shape and output size
    (``model.hidden`` given to it when set, else the preset's own default widths)."""
    layers = PRESETS.get(model_cfg["preset"])
    hidden = list(model_cfg["hidden"])
    if hidden:
        return layers(model_cfg, tuple(input_shape), num_outputs, hidden=hidden)
    return layers(model_cfg, tuple(input_shape), num_outputs)


def initialise(model, init: str, activation: str) -> None:
    """Initialise every Linear/Conv2d weight per ``init`` (biases zero); ``default`` keeps layer defaults."""
    if init == "default":
        return
    if init == "auto" and any(isinstance(m, SEQUENCE_BLOCKS) for m in model.modules()):
        return          # sequence models keep PyTorch's own initialisation
    if init == "auto":
        nn.init.init_for_activation(model, activation)
        return
    fn = getattr(nn.init, init + "_")
    gain_act = "leaky_relu" if activation == "leaky_relu" else ("relu" if activation in ("relu", "gelu", "silu",
                                                                                          "elu") else activation)
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            if init.startswith("kaiming"):
                fn(m.weight, nonlinearity="leaky_relu" if gain_act == "leaky_relu" else "relu")
            elif init.startswith("xavier") or init == "orthogonal":
                fn(m.weight, gain=nn.init.calculate_gain(gain_act if gain_act in ("relu", "tanh", "sigmoid",
                                                                                  "leaky_relu") else "linear"))
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)


def build_model(model_cfg: dict, input_shape, num_outputs: int, per_step: bool = False):
    """The model a ``[model]`` config section describes, for inputs of ``input_shape`` (no batch) and
    ``num_outputs`` outputs (classes, or regression targets); ``per_step=True`` (a language model over token
    windows (T,)) expects ``num_outputs`` scores at every step, an output (T, num_outputs)."""
    if model_cfg.get("layers"):
        layers = model_cfg["layers"]
    else:
        layers = preset_layers(model_cfg, input_shape, num_outputs)
    model, out = build_layers(layers, input_shape)
    if per_step and out != (*tuple(input_shape)[:1], num_outputs):
        raise ConfigError(f"model.layers ends with output shape {out} but a language model needs "
                          f"({tuple(input_shape)[0]}, {num_outputs}) (next-token scores per step); end with "
                          f"{{type=\"step_linear\", out_features={num_outputs}}}")
    if not per_step and out != (num_outputs,):
        raise ConfigError(f"model.layers ends with output shape {out} but the data needs ({num_outputs},) "
                          f"(classes or targets); end with {{type=\"linear\", out_features={num_outputs}}}")
    initialise(model, model_cfg.get("init", "auto"), model_cfg.get("activation", "relu"))
    return model
