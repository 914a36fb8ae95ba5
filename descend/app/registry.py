"""The app's registries: every name a config can give, each kind in ONE table.

=================  ====================================================================================
``OPTIMIZERS``     ``[optimizer] name`` → ``factory(params, opt_cfg)`` (``opt_cfg``: the ``[optimizer]`` table)
``SCHEDULES``      ``[schedule] name`` → ``factory(cfg, optimizer, steps_per_epoch)`` returning
                   ``(scheduler or None, interval)``, interval ``"epoch"`` or ``"batch"``
``PRESETS``        ``[model] preset`` → ``layers(model_cfg, input_shape, num_outputs[, hidden])``: layer tables
``ACTIVATIONS``    ``[model] activation`` and activation layer types → the module class; ``args=`` the
                   arguments a layer table may give (name → kind)
``LOSSES``         the task (``classification`` / ``regression``) → ``factory()`` of its loss
``DATA_SOURCES``   ``[data] name`` → ``reader(**kwargs)`` (kept with the readers in ``descend.data.sources``)
=================  ====================================================================================

The config schema (allowed values and the comments of ``descend config show``), the factories, the CLI,
the tuner and the diagnostics all read these tables, so registering a name here is all it takes to make it
valid everywhere. ``note=`` (an info field) adds a parenthesis after the name in the config comment.
"""

from __future__ import annotations

from .. import nn, optim
from ..data.sources import DATA_SOURCES
from ..registry import Registry
from .errors import ConfigError
from .presets import cnn_layers, mlp_layers, resnet_layers
from .sequence import gru_layers, lstm_layers, rnn_layers, transformer_layers

__all__ = ["Registry", "OPTIMIZERS", "SCHEDULES", "PRESETS", "ACTIVATIONS", "LOSSES", "DATA_SOURCES",
           "names_text"]

OPTIMIZERS = Registry("optimizer")
SCHEDULES = Registry("schedule")
PRESETS = Registry("preset")
ACTIVATIONS = Registry("activation")
LOSSES = Registry("loss")


def names_text(registry, last: str = ", ") -> str:
    """The names of a registry for a comment: ``a, b, c`` (``last=" or "``: ``a, b or c``), each followed by
    its ``note`` in parentheses when it has one."""
    names = [f"{n} ({registry.info(n)['note']})" if registry.info(n).get("note") else n for n in registry.names()]
    if len(names) < 2:
        return "".join(names)
    return ", ".join(names[:-1]) + last + names[-1]


# ------------------------------------------------------------------------------------------- optimisers
def _plain(cls):
    def factory(params, cfg):
        return cls(params, lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    factory.__name__ = cls.__name__.lower()
    return factory


def _sgd_momentum(nesterov: bool):
    def factory(params, cfg):
        name = "nesterov" if nesterov else "momentum"
        if cfg["momentum"] == 0:
            raise ConfigError(f"optimizer.name = {name!r} needs optimizer.momentum > 0")
        return optim.SGD(params, lr=cfg["lr"], momentum=cfg["momentum"], nesterov=nesterov,
                         weight_decay=cfg["weight_decay"])
    return factory


OPTIMIZERS.register("sgd", _plain(optim.SGD))
OPTIMIZERS.register("momentum", _sgd_momentum(False))
OPTIMIZERS.register("nesterov", _sgd_momentum(True))
for _name, _cls in (("adagrad", optim.Adagrad), ("rmsprop", optim.RMSprop), ("adam", optim.Adam),
                    ("adamw", optim.AdamW), ("nadam", optim.NAdam), ("lion", optim.Lion),
                    ("adadelta", optim.Adadelta), ("adamax", optim.Adamax), ("radam", optim.RAdam),
                    ("asgd", optim.ASGD)):
    OPTIMIZERS.register(_name, _plain(_cls))


@OPTIMIZERS.register("rprop", note="full-batch; no weight decay")
def _rprop(params, cfg):
    if cfg["weight_decay"] != 0:
        raise ConfigError(f"optimizer.name = 'rprop' has no weight decay; set optimizer.weight_decay = 0 "
                          f"(got {cfg['weight_decay']!r})")
    return optim.Rprop(params, lr=cfg["lr"])


# ------------------------------------------------------------------------------------------- schedules
@SCHEDULES.register("none")
def _no_schedule(cfg, optimizer, steps_per_epoch):
    return None, "epoch"


@SCHEDULES.register("step")
def _step(cfg, optimizer, steps_per_epoch):
    s = cfg["schedule"]
    if s.get("warmup_steps"):           # stepped per batch after a warm-up in steps: the same decay, in batches
        return optim.StepLR(optimizer, step_size=s["step_size"] * steps_per_epoch, gamma=s["gamma"]), "batch"
    return optim.StepLR(optimizer, step_size=s["step_size"], gamma=s["gamma"]), "epoch"


@SCHEDULES.register("cosine")
def _cosine(cfg, optimizer, steps_per_epoch):
    s = cfg["schedule"]
    if s.get("warmup_steps"):           # per batch over the steps left after the warm-up
        return optim.CosineAnnealingLR(optimizer, T_max=max(1, cfg["train"]["epochs"] * steps_per_epoch
                                                           - s["warmup_steps"]), eta_min=s["min_lr"]), "batch"
    return optim.CosineAnnealingLR(optimizer, T_max=max(1, cfg["train"]["epochs"] - s["warmup_epochs"]),
                                   eta_min=s["min_lr"]), "epoch"


@SCHEDULES.register("onecycle")
def _onecycle(cfg, optimizer, steps_per_epoch):
    group = optimizer.param_groups[0]     # cycle momentum only where the optimiser has one
    cycle = "betas" in group or group.get("momentum", 0) > 0
    return optim.OneCycleLR(optimizer, max_lr=cfg["optimizer"]["lr"],
                            total_steps=cfg["train"]["epochs"] * steps_per_epoch, cycle_momentum=cycle), "batch"


@SCHEDULES.register("plateau")
def _plateau(cfg, optimizer, steps_per_epoch):
    s = cfg["schedule"]
    return optim.ReduceLROnPlateau(optimizer, mode="min", factor=s["factor"], patience=s["patience"],
                                   min_lr=s["min_lr"]), "epoch"


# ------------------------------------------------------------------------------------------- models
PRESETS.register("mlp", mlp_layers)
PRESETS.register("cnn", cnn_layers)
PRESETS.register("resnet", resnet_layers, note="a small residual CNN")
PRESETS.register("rnn", rnn_layers, note="sequences")
PRESETS.register("lstm", lstm_layers, note="sequences, text")
PRESETS.register("gru", gru_layers, note="sequences")
PRESETS.register("transformer", transformer_layers, note="sequences, text: causal")

ACTIVATIONS.register("relu", nn.ReLU, args={})
ACTIVATIONS.register("leaky_relu", nn.LeakyReLU, args={"negative_slope": "float"})
ACTIVATIONS.register("elu", nn.ELU, args={"alpha": "float"})
ACTIVATIONS.register("gelu", nn.GELU, args={})
ACTIVATIONS.register("silu", nn.SiLU, args={})
ACTIVATIONS.register("tanh", nn.Tanh, args={})
ACTIVATIONS.register("sigmoid", nn.Sigmoid, args={})

LOSSES.register("classification", nn.CrossEntropyLoss)
LOSSES.register("regression", nn.MSELoss)


class TokenCrossEntropy(nn.CrossEntropyLoss):
    """Cross-entropy of next-token scores (N, T, V) against targets (N, T): the mean over all N·T steps of
    −log softmax(s)[y], in nats."""

    def forward(self, input, target):
        return super().forward(input.reshape(-1, input.shape[-1]), target.reshape(-1))


LOSSES.register("language-model", TokenCrossEntropy)
