"""Model presets as layer tables (see :func:`descend.app.config.layer_types`), one function per preset.

Each preset is ``layers(model_cfg, input_shape, num_outputs) -> list of layer tables`` and is registered in
:data:`descend.app.registry.PRESETS` with its default widths (``hidden=``), used when ``model.hidden`` is
empty:

- ``mlp``: Flatten → [Linear(h) → BatchNorm1d? → act] for each width h (default [128, 64]) → Dropout? →
  Linear(num_outputs).
- ``cnn``: for each channel count c (default [32, 64]): Conv2d(c, 3, padding=1) → BatchNorm2d? → act →
  MaxPool2d(2) (while the image is at least 2×2) → Dropout? → Flatten → Linear(num_outputs).
- ``resnet`` (a small residual CNN in the manner of He et al. 2016, "Deep Residual Learning"): a stem
  Conv2d(c₀, 3) → BN? → act, then per stage c (default [16, 32]): a stride-2 Conv2d(c) → BN? → act when c
  changes, and one ``Residual`` block x + F(x) with F = conv → BN? → act → conv → BN?, followed by act →
  global average pooling → Dropout? → Linear(num_outputs).
"""

from __future__ import annotations

from .errors import ConfigError

__all__ = ["mlp_layers", "cnn_layers", "resnet_layers"]


def _parts(model_cfg: dict, num_outputs: int):
    act = {"type": model_cfg["activation"]}
    bn = [{"type": "batchnorm"}] if model_cfg["batchnorm"] else []
    drop = [{"type": "dropout", "p": model_cfg["dropout"]}] if model_cfg["dropout"] > 0 else []
    head = [{"type": "linear", "out_features": num_outputs}]
    return act, bn, drop, head


def _need_image(name: str, input_shape) -> None:
    if len(input_shape) != 3:
        raise ConfigError(f"model.preset = {name!r} needs image data shaped (C, H, W) but the data has "
                          f"shape {tuple(input_shape)}; use model.preset = 'mlp'")


def mlp_layers(model_cfg: dict, input_shape, num_outputs: int, hidden=(128, 64)) -> list:
    """Flatten, then Linear → BatchNorm? → act per width, Dropout?, the Linear head."""
    act, bn, drop, head = _parts(model_cfg, num_outputs)
    layers = [{"type": "flatten"}]
    for h in hidden:
        layers += [{"type": "linear", "out_features": h}, *bn, act]
    return layers + drop + head


def cnn_layers(model_cfg: dict, input_shape, num_outputs: int, hidden=(32, 64)) -> list:
    """Conv 3×3 → BatchNorm? → act → MaxPool 2 per channel count, Dropout?, Flatten, the Linear head."""
    _need_image("cnn", input_shape)
    act, bn, drop, head = _parts(model_cfg, num_outputs)
    layers, size = [], min(input_shape[1:])
    for c in hidden:
        layers += [{"type": "conv2d", "out_channels": c, "kernel_size": 3, "padding": 1}, *bn, act]
        if size >= 2:
            layers.append({"type": "maxpool2d", "kernel_size": 2})
            size //= 2
    return layers + drop + [{"type": "flatten"}] + head


def resnet_layers(model_cfg: dict, input_shape, num_outputs: int, hidden=(16, 32)) -> list:
    """A stem conv, per stage a stride-2 conv when the width changes and one residual block, global
    average pooling, Dropout?, the Linear head."""
    _need_image("resnet", input_shape)
    act, bn, drop, head = _parts(model_cfg, num_outputs)
    hidden = list(hidden)
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
