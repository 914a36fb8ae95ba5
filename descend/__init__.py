"""descend: deep neural networks from first principles, fast on a CPU.

A Tensor with reverse-mode autograd on NumPy; layers, losses and initialisers (``descend.nn``);
optimisers and learning-rate schedules (``descend.optim``); data, a training loop, tuning and
diagnostics. The interface follows PyTorch's, so ``import descend as torch``-style code reads the same.
"""

from . import backend
from .autograd import (Function, GradcheckError, GraphFreedError, enable_grad, gradcheck, is_grad_enabled,
                       no_grad, set_grad_enabled)
from .ops import (abs, cat, clip, concatenate, exp, log, logsumexp, matmul, maximum, mean, minimum, pad,
                  sqrt, stack, sum, where)
from .random import get_rng_state, manual_seed, set_rng_state
from .tensor import Tensor, arange, as_tensor, full, ones, ones_like, tensor, zeros, zeros_like
from .io.checkpoint import load, save
from .run import run_training
from .ops import bind_tensor_methods as _bind

_bind(Tensor)
del _bind
from . import optim  # noqa: E402  (optimisers, schedules, clipping)
from .train import History, Trainer  # noqa: E402  (the training loop)
from . import tune  # noqa: E402  (descend.tune(config, ...): hyperparameter search; a callable module)
from . import diagnose  # noqa: E402  (health monitor, doctor, lr range test, optimiser playground)

float32 = backend.np.float32
float64 = backend.np.float64
int64 = backend.np.int64

__version__ = "0.1.0"
