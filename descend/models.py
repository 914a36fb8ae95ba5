"""Model presets and layer lists built from the ``[model]`` section of a config.

``build_model(model_cfg, input_shape, num_outputs)`` returns a ``descend.nn.Sequential``:

- ``mlp``: Flatten → [Linear(h) → BatchNorm1d? → act] for each width h in ``hidden`` (default [128, 64])
  → Dropout? → Linear(num_outputs).
- ``cnn``: for each channel count c in ``hidden`` (default [32, 64]): Conv2d(c, 3, padding=1) →
  BatchNorm2d? → act → MaxPool2d(2) (while the image is at least 2×2) → Dropout? → Flatten →
  Linear(num_outputs).
- ``resnet`` (a small residual CNN in the manner of He et al. 2016, "Deep Residual Learning"): a stem
  Conv2d(c₀, 3) → BN? → act, then per stage c in ``hidden`` (default [16, 32]): a stride-2 Conv2d(c)
  → BN? → act when c changes, and one ``Residual`` block x + F(x) with F = conv → BN? → act → conv →
  BN?, followed by act → global average pooling → Dropout? → Linear(num_outputs).
- ``layers``: an explicit list of layer tables (see :data:`descend.config.LAYER_TYPES`), input sizes
  inferred by passing a zero batch through each layer as it is built; a ``linear`` after an image-shaped
  output gets a ``Flatten`` inserted before it.

Weights are then initialised per ``model.init`` (``auto``: He for ReLU-like activations, Glorot for
tanh/sigmoid; ``default``: each layer's PyTorch default).
"""

from __future__ import annotations

import numpy as np

from .config import ConfigError

PRESET_HIDDEN = {"mlp": [128, 64], "cnn": [32, 64], "resnet": [16, 32]}


def _nn():
    from . import nn
    return nn


def activation_module(name: str, **kwargs):
    """The activation module for a config name (``relu``, ``gelu``, ...)."""
    nn = _nn()
    table = {"relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "elu": nn.ELU, "gelu": nn.GELU, "silu": nn.SiLU,
             "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}
    return table[name](**kwargs)


def _out_shape(module, shape):
    """Shape (without batch) of ``module``'s output for an input of ``shape``, from a zero batch of 2."""
    from .autograd import no_grad
    from .tensor import Tensor
    was_training = module.training
    module.eval()
    try:
        with no_grad():
            out = module(Tensor._from_array(np.zeros((2, *shape), dtype=np.float32)))
    finally:
        module.train(was_training)
    return tuple(out.shape[1:])


def _layer(spec: dict, shape: tuple, where: str):
    """Build one layer from its table, given the input shape (without batch)."""
    nn = _nn()
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
    return activation_module(kind, **args)


def build_layers(layers: list, input_shape, where: str = "model.layers"):
    """A Sequential from a list of layer tables; returns (model, output shape without batch)."""
    nn = _nn()
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
    """The layer tables of a preset (``mlp``, ``cnn``, ``resnet``) for this input shape and output size."""
    preset = model_cfg["preset"]
    hidden = list(model_cfg["hidden"]) or PRESET_HIDDEN[preset]
    act = {"type": model_cfg["activation"]}
    bn = [{"type": "batchnorm"}] if model_cfg["batchnorm"] else []
    drop = [{"type": "dropout", "p": model_cfg["dropout"]}] if model_cfg["dropout"] > 0 else []
    head = [{"type": "linear", "out_features": num_outputs}]
    if preset == "mlp":
        layers = [{"type": "flatten"}]
        for h in hidden:
            layers += [{"type": "linear", "out_features": h}, *bn, act]
        return layers + drop + head
    if len(input_shape) != 3:
        raise ConfigError(f"model.preset = {preset!r} needs image data shaped (C, H, W) but the data has "
                          f"shape {tuple(input_shape)}; use model.preset = 'mlp'")
    if preset == "cnn":
        layers, size = [], min(input_shape[1:])
        for c in hidden:
            layers += [{"type": "conv2d", "out_channels": c, "kernel_size": 3, "padding": 1}, *bn, act]
            if size >= 2:
                layers.append({"type": "maxpool2d", "kernel_size": 2})
                size //= 2
        return layers + drop + [{"type": "flatten"}] + head
    # resnet
    layers = [{"type": "conv2d", "out_channels": hidden[0], "kernel_size": 3, "padding": 1}, *bn, act]
    size, channels = min(input_shape[1:]), hidden[0]
    for c in hidden:
        if c != channels:
            stride = 2 if size >= 4 else 1
            layers += [{"type": "conv2d", "out_channels": c, "kernel_size": 3, "padding": 1, "stride": stride},
                       *bn, act]
            size = (size + 1) // stride if stride == 2 else size
            channels = c
        conv = {"type": "conv2d", "out_channels": c, "kernel_size": 3, "padding": 1}
        layers += [{"type": "residual", "layers": [conv, *bn, act, dict(conv), *bn]}, act]
    return layers + [{"type": "globalavgpool2d"}] + drop + head


def initialise(model, init: str, activation: str) -> None:
    """Initialise every Linear/Conv2d weight per ``init`` (biases zero); ``default`` keeps layer defaults."""
    if init == "default":
        return
    nn = _nn()
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


def build_model(model_cfg: dict, input_shape, num_outputs: int):
    """The model a ``[model]`` config section describes, for inputs of ``input_shape`` (no batch) and
    ``num_outputs`` outputs (classes, or regression targets)."""
    if model_cfg.get("layers"):
        layers = model_cfg["layers"]
    else:
        layers = preset_layers(model_cfg, input_shape, num_outputs)
    model, out = build_layers(layers, input_shape)
    if out != (num_outputs,):
        raise ConfigError(f"model.layers ends with output shape {out} but the data needs ({num_outputs},) "
                          f"(classes or targets); end with {{type=\"linear\", out_features={num_outputs}}}")
    initialise(model, model_cfg.get("init", "auto"), model_cfg.get("activation", "relu"))
    return model
