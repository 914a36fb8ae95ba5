"""descend: deep neural networks from first principles, fast on a CPU.

A Tensor with reverse-mode autograd on NumPy; layers, losses and initialisers (``descend.nn``);
optimisers and learning-rate schedules (``descend.optim``); data sets and loaders (``descend.data``);
the training loop (``descend.Trainer``); hyperparameter search (``descend.tune``); diagnostics
(``descend.diagnose``); checkpoints, plots and reports (``descend.io``). The interface follows PyTorch's.
"""

from . import backend
from .autograd import (Function, GradcheckError, GraphFreedError, enable_grad, gradcheck, is_grad_enabled,
                       no_grad, set_grad_enabled)
from .ops import (abs, cat, clip, concatenate, exp, log, logsumexp, matmul, maximum, mean, minimum, pad,
                  sqrt, stack, sum, where)
from .ops import bind_tensor_methods as _bind
from .random import get_rng_state, manual_seed, set_rng_state
from .tensor import Tensor, arange, as_tensor, full, ones, ones_like, tensor, zeros, zeros_like

_bind(Tensor)  # operators and PyTorch-named methods, before any module builds a tensor
del _bind

from . import data, nn, optim  # noqa: E402
from .io.checkpoint import load, save  # noqa: E402
from .train import History, Trainer  # noqa: E402
from .app import run_training  # noqa: E402
from . import diagnose  # noqa: E402
from . import tune  # noqa: E402  (descend.tune(config, ...) runs a study: the package is callable)

float32 = backend.np.float32
float64 = backend.np.float64
int64 = backend.np.int64

__version__ = "0.1.0"
