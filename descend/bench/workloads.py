"""The benchmark workloads: one architecture spec, built twice (descend and PyTorch) from the same layers.

A workload is a list of layer specs — ``("linear", in, out)``, ``("conv", in, out, k)``, ``("relu",)``,
``("maxpool", k)``, ``("bn1d", c)``, ``("dropout", p)``, ``("flatten",)``, ``("lstm", in, hidden)`` (batch-first,
the last step's output), ``("encoder", d_model, nhead, ff, layers)`` (a post-LN batch-first
``TransformerEncoder``, dropout 0), ``("meanpool",)`` (the mean over steps), ``("conv", in, out, k, padding)``,
``("bn2d", c)``, ``("layernorm", d)``, ``("gelu",)``, ``("block", c)`` (a ResNet basic block: conv3×3-BN-ReLU-
conv3×3-BN plus the identity, then ReLU) and ``("avgpool",)`` (adaptive average to 1×1, flattened) — plus the
batch size, the input shape, the optimiser and whether it trains. :func:`build_descend` and :func:`build_torch` turn a spec
into a ``Sequential`` of the same layer sequence, so their state-dict keys are identical and torch's initial
weights can be copied into descend with ``load_state_dict``.

Data are Fashion-MNIST-shaped synthetic batches (float32 images in [0, 1], int64 labels 0–9), drawn once
from a seeded generator and shared by both frameworks (torch wraps the same arrays with ``from_numpy``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Workload", "WORKLOADS", "resolve", "make_batches", "build_descend", "build_torch",
           "make_descend_step", "make_torch_step", "matmul_flops"]

NUM_CLASSES = 10
SWEEP_BATCHES = (1, 8, 32, 128, 512)
DROPOUT_P = 0.2


@dataclass(frozen=True)
class Workload:
    """One benchmark: ``layers`` (specs), ``batch``, per-sample ``input_shape``, ``optimizer`` ('adam',
    'adamw', 'sgd_nesterov' or None for inference), ``steps`` (default timed steps) and a description."""

    name: str
    description: str
    layers: tuple
    batch: int
    input_shape: tuple
    optimizer: str | None
    steps: int
    lr: float = 1e-3
    momentum: float = 0.9
    tags: tuple = field(default=())
    #: training steps of the loss-agreement check, when the run's default is too many: a net whose loss jumps
    #: (BatchNorm on random labels) amplifies the two frameworks' different rounding within a few steps
    check_steps: int | None = None

    @property
    def train(self) -> bool:
        return self.optimizer is not None

    @property
    def is_mlp(self) -> bool:
        return all(spec[0] in ("linear", "relu", "gelu", "bn1d", "layernorm", "dropout", "flatten")
                   for spec in self.layers)


_MLP_784_512_256_10 = (("linear", 784, 512), ("relu",), ("linear", 512, 256), ("relu",), ("linear", 256, 10))
_CIFAR_CNN = (("conv", 3, 32, 3, 1), ("bn2d", 32), ("relu",), ("conv", 32, 32, 3, 1), ("bn2d", 32), ("relu",),
              ("maxpool", 2), ("conv", 32, 64, 3, 1), ("bn2d", 64), ("relu",), ("conv", 64, 64, 3, 1), ("bn2d", 64),
              ("relu",), ("maxpool", 2), ("conv", 64, 128, 3, 1), ("bn2d", 128), ("relu",), ("maxpool", 2),
              ("flatten",), ("linear", 128 * 4 * 4, 10))
_LN_GELU_MLP = ((("linear", 256, 512),) + (("linear", 512, 512), ("layernorm", 512), ("gelu",)) * 4
                + (("linear", 512, 10),))
_RESNET = (("conv", 3, 32, 3, 1), ("bn2d", 32), ("relu",), ("maxpool", 2), ("block", 32), ("block", 32),
           ("block", 32), ("avgpool",), ("linear", 32, 10))
_CNN = (("conv", 1, 32, 3), ("relu",), ("maxpool", 2), ("conv", 32, 64, 3), ("relu",), ("maxpool", 2),
        ("flatten",), ("linear", 64 * 5 * 5, 128), ("relu",), ("linear", 128, 10))

WORKLOADS = {w.name: w for w in (
    Workload("W1", "MLP 784-512-256-10, ReLU, cross-entropy, Adam, batch 128",
             _MLP_784_512_256_10, 128, (784,), "adam", 150),
    Workload("W2", "MLP 784-128-10, ReLU, cross-entropy, Adam, batch 32 (per-op overhead)",
             (("linear", 784, 128), ("relu",), ("linear", 128, 10)), 32, (784,), "adam", 600),
    Workload("W3", "CNN conv3x3(32)-ReLU-maxpool2-conv3x3(64)-ReLU-maxpool2-Linear(128)-ReLU-Linear(10), "
             "1x28x28, padding 0, Adam, batch 64", _CNN, 64, (1, 28, 28), "adam", 40),
    Workload("W4", f"MLP 784-256-256-10 with BatchNorm1d and Dropout({DROPOUT_P}), SGD Nesterov momentum 0.9, "
             "batch 256",
             (("linear", 784, 256), ("bn1d", 256), ("relu",), ("dropout", DROPOUT_P),
              ("linear", 256, 256), ("bn1d", 256), ("relu",), ("dropout", DROPOUT_P), ("linear", 256, 10)),
             256, (784,), "sgd_nesterov", 150, lr=0.01),
    Workload("W5-mlp", "inference (no_grad, eval) of W1's MLP, batch 1024",
             _MLP_784_512_256_10, 1024, (784,), None, 60, tags=("W5",)),
    Workload("W5-cnn", "inference (no_grad, eval) of W3's CNN, batch 1024",
             _CNN, 1024, (1, 28, 28), None, 10, tags=("W5",)),
    Workload("W6", "LSTM(32->128) over 50 steps, the last step's output -> Linear(10), Adam, batch 32",
             (("lstm", 32, 128), ("linear", 128, 10)), 32, (50, 32), "adam", 20, tags=("LSTM",)),
    Workload("W7", "Transformer encoder: Linear(32->64), 2 post-LN layers (d 64, 4 heads, ff 256), mean over "
             "32 steps, Linear(10), Adam, batch 32",
             (("linear", 32, 64), ("encoder", 64, 4, 256, 2), ("meanpool",), ("linear", 64, 10)), 32, (32, 32),
             "adam", 20, tags=("TRANSFORMER",)),
    Workload("W8", "CIFAR-sized CNN: five conv3x3 (padding 1; 32-32-64-64-128) each with BatchNorm2d and ReLU, "
             "three maxpool2, Linear(2048->10), 3x32x32, Adam, batch 128", _CIFAR_CNN, 128, (3, 32, 32), "adam", 6,
             tags=("CIFAR",), check_steps=5),
    Workload("W9", "MLP 256->512, four blocks Linear(512)-LayerNorm-GELU, Linear(10), AdamW, batch 256",
             _LN_GELU_MLP, 256, (256,), "adamw", 60, tags=("LN",)),
    Workload("W10", "ResNet: conv3x3(3->32)-BN-ReLU-maxpool2, three basic blocks (32 channels, 16x16), "
             "global average pool, Linear(10), 3x32x32, SGD Nesterov momentum 0.9, batch 64",
             _RESNET, 64, (3, 32, 32), "sgd_nesterov", 10, lr=0.01, tags=("RESNET",)),
) + tuple(
    Workload(f"S-mlp-{b}", f"batch-size sweep: W1's MLP at batch {b}", _MLP_784_512_256_10, b, (784,), "adam",
             max(20, 9600 // b), tags=("SWEEP",)) for b in SWEEP_BATCHES
) + tuple(
    Workload(f"S-cnn-{b}", f"batch-size sweep: W3's CNN at batch {b}", _CNN, b, (1, 28, 28), "adam",
             max(6, 1600 // b), tags=("SWEEP",)) for b in SWEEP_BATCHES
)}


def resolve(names) -> list:
    """Workload names ('W1,W3' or a list) -> Workloads; 'W5' selects both W5 parts; None selects all."""
    if names is None:
        return list(WORKLOADS.values())
    if isinstance(names, str):
        names = [n for n in names.split(",") if n.strip()]
    out = []
    for raw in names:
        name = raw.strip().upper().replace("_", "-").replace("MLP", "mlp").replace("CNN", "cnn")
        matched = [w for w in WORKLOADS.values() if w.name == name or name in w.tags]
        if not matched:
            raise ValueError(f"unknown workload {raw!r}; choose from {', '.join(WORKLOADS)} (W5 = both W5 parts)")
        out.extend(w for w in matched if w not in out)
    return out


def make_batches(workload: Workload, count: int = 8, seed: int = 0):
    """``count`` synthetic (x, y) batches: x float32 in [0, 1] of shape (batch, *input_shape), y int64."""
    rng = np.random.default_rng(seed)
    shape = (count, workload.batch) + tuple(workload.input_shape)
    xs = rng.random(shape, dtype=np.float32)
    ys = rng.integers(0, NUM_CLASSES, size=(count, workload.batch), dtype=np.int64)
    return [(xs[i], ys[i]) for i in range(count)]


def matmul_flops(workload: Workload) -> float:
    """Floating-point operations of the matrix products of one step: 2·m·n·k per Linear forward, ×3 for a
    training step (forward, input gradient, weight gradient: the usual convention, which also counts the
    first layer's input gradient although nothing needs it). MLPs only (None otherwise)."""
    if not workload.is_mlp:
        return None
    forward = sum(2.0 * workload.batch * s[1] * s[2] for s in workload.layers if s[0] == "linear")
    return forward * (3 if workload.train else 1)


# ---------------------------------------------------------------------------------------------- builders
def _sequence_modules(nn):
    """The LSTM-last-step, mean-over-steps and ResNet basic-block modules, on ``nn.Module`` of either framework."""
    class LastStepLSTM(nn.Module):
        def __init__(self, input_size, hidden_size):
            super().__init__()
            self.rnn = nn.LSTM(input_size, hidden_size, batch_first=True)

        def forward(self, x):
            return self.rnn(x)[0][:, -1]

    class MeanOverSteps(nn.Module):
        def forward(self, x):
            return x.mean(dim=1)

    class BasicBlock(nn.Module):
        def __init__(self, channels):
            super().__init__()
            self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(channels)
            self.relu = nn.ReLU()
            self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(channels)

        def forward(self, x):
            return self.relu(self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x))))) + x)
    return LastStepLSTM, MeanOverSteps, BasicBlock


def _build(nn, workload: Workload, dropout_p: float | None):
    """The workload's layers from ``nn`` (descend's or PyTorch's: the class names and arguments agree)."""
    makers = {
        "linear": lambda spec: nn.Linear(spec[1], spec[2]),
        "conv": lambda spec: nn.Conv2d(spec[1], spec[2], spec[3], padding=spec[4] if len(spec) > 4 else 0),
        "bn2d": lambda spec: nn.BatchNorm2d(spec[1]),
        "layernorm": lambda spec: nn.LayerNorm(spec[1]),
        "gelu": lambda spec: nn.GELU(),
        "block": lambda spec: basic_block(spec[1]),
        "avgpool": lambda spec: nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten()),
        "relu": lambda spec: nn.ReLU(),
        "maxpool": lambda spec: nn.MaxPool2d(spec[1]),
        "bn1d": lambda spec: nn.BatchNorm1d(spec[1]),
        "dropout": lambda spec: nn.Dropout(spec[1] if dropout_p is None else dropout_p),
        "flatten": lambda spec: nn.Flatten(),
        "lstm": lambda spec: last_step(spec[1], spec[2]),
        "encoder": lambda spec: nn.TransformerEncoder(
            nn.TransformerEncoderLayer(spec[1], spec[2], spec[3], dropout=0.0, batch_first=True), spec[4],
            enable_nested_tensor=False),
        "meanpool": lambda spec: mean_pool(),
    }
    last_step, mean_pool, basic_block = _sequence_modules(nn)
    layers = []
    for spec in workload.layers:
        if spec[0] not in makers:  # pragma: no cover - the specs above are fixed
            raise ValueError(f"unknown layer spec {spec!r}")
        layers.append(makers[spec[0]](spec))
    return nn.Sequential(*layers)


def build_descend(workload: Workload, dropout_p: float | None = None):
    """The workload's model as a ``descend.nn.Sequential`` (``dropout_p`` overrides the dropout rate)."""
    from .. import nn

    return _build(nn, workload, dropout_p)


def build_torch(workload: Workload, dropout_p: float | None = None):
    """The same model in PyTorch (imported here: descend itself never imports torch)."""
    from torch import nn

    return _build(nn, workload, dropout_p)


def initial_state(torch_model) -> dict:
    """Torch's freshly initialised state dict as NumPy arrays (copies), to load into descend."""
    return {k: v.detach().numpy().copy() for k, v in torch_model.state_dict().items()}


# ---------------------------------------------------------------------------------------------- steps
def _make_step(workload: Workload, model, nn, optim, no_grad, output):
    """The loop a user writes (zero_grad, forward, loss, backward, step) with one framework's ``nn``,
    ``optim`` and ``no_grad`` (descend's and PyTorch's share these names and arguments)."""
    if not workload.train:
        model.eval()

        def infer(x, y=None):
            with no_grad():
                return output(model(x))
        return infer
    model.train()
    loss_fn = nn.CrossEntropyLoss()
    if workload.optimizer == "adam":
        opt = optim.Adam(model.parameters(), lr=workload.lr)
    elif workload.optimizer == "adamw":
        opt = optim.AdamW(model.parameters(), lr=workload.lr)
    else:
        opt = optim.SGD(model.parameters(), lr=workload.lr, momentum=workload.momentum, nesterov=True)

    def step(x, y):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()
    return step


def make_descend_step(workload: Workload, model):
    """A function ``step(x, y) -> float loss`` (training) or ``step(x) -> logits array`` (inference), on
    pre-wrapped descend Tensors."""
    import descend
    from .. import nn, optim

    return _make_step(workload, model, nn, optim, descend.no_grad, lambda out: out.array)


def make_torch_step(workload: Workload, model):
    """The same loop in PyTorch."""
    import torch

    return _make_step(workload, model, torch.nn, torch.optim, torch.no_grad, lambda out: out)


def wrap_descend(batches):
    from ..tensor import Tensor
    return [(Tensor.from_array(x), Tensor.from_array(y)) for x, y in batches]


def wrap_torch(batches):
    import torch
    return [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in batches]
