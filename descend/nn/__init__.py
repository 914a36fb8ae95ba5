"""Neural-network building blocks: Module and Parameter, layers, containers, initialisers.

Layers follow PyTorch's names, arguments and parameter shapes (Linear weight ``(out, in)``, Conv2d
weight ``(out, in, kh, kw)``, NCHW images), so state dicts move between the two.
"""

from . import functional
from .container import ModuleDict, ModuleList, Sequential
from .module import IncompatibleKeys, Module, Parameter, RemovableHandle, StateDictError
from . import init
from .activation import ELU, GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, SiLU, Softmax, Swish, Tanh
from .conv import Conv2d
from .dropout import Dropout, Dropout2d
from .embedding import Embedding
from .flatten import Flatten, Identity
from .fusion import fusion_plan, run_fused
from .linear import Linear
from .pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d
from .residual import Residual
from .summary import ModelSummary, summary
from .loss import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, L1Loss, MSELoss, NLLLoss,
                   SmoothL1Loss)
from .normalization import BatchNorm1d, BatchNorm2d, BatchNorm3d, LayerNorm
from .sync_batchnorm import SyncBatchNorm
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell
from .attention import MultiheadAttention
from .transformer import (Transformer, TransformerDecoder, TransformerDecoderLayer, TransformerEncoder,
                          TransformerEncoderLayer)
from .positional import LearnedPositionalEncoding, SinusoidalPositionalEncoding  # descend-only
from . import utils  # noqa: E402  (clip_grad_norm_, clip_grad_value_, utils.rnn)
from . import parallel  # noqa: E402  (DistributedDataParallel)
