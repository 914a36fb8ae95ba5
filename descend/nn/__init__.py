"""Neural-network building blocks: Module and Parameter, layers, containers, initialisers.

Layers follow PyTorch's names, arguments and parameter shapes (Linear weight ``(out, in)``, Conv2d
weight ``(out, in, kh, kw)``, NCHW images), so state dicts move between the two.
"""

from . import functional
from .container import ModuleDict, ModuleList, Sequential
from .module import IncompatibleKeys, Module, Parameter, RemovableHandle, StateDictError
from .loss import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, L1Loss, MSELoss, NLLLoss,
                   SmoothL1Loss)
from .normalization import BatchNorm1d, BatchNorm2d, BatchNorm3d, LayerNorm
