"""descend: deep neural networks from first principles, fast on a CPU.

A Tensor with reverse-mode autograd on NumPy; layers, losses and initialisers (``descend.nn``);
optimisers and learning-rate schedules (``descend.optim``); data sets and loaders (``descend.data``);
the training loop (``descend.Trainer``); hyperparameter search (``descend.tune``); diagnostics
(``descend.diagnose``); checkpoints, plots and reports (``descend.io``). The interface follows PyTorch's.
"""

import os as _os
import sys as _sys

# OpenBLAS's idle worker threads spin for 2^28 cycles (about 0.1 s) after each product before they sleep; on a
# machine with few cores a spinning worker takes the core that the compiled kernels and the convolutions' and
# recurrent layers' second thread run on next. 2^24 cycles (about 6 ms at 2.6 GHz) keeps the workers awake between
# the products of one step and lets them sleep during the other work. Measured on 2 cores (docs/kernels.md): 2^22
# against 2^28, the LSTM benchmark's step 14.2 -> 10.3 ms; 2^24 against 2^22, on an Intel Xeon, CNN and
# LayerNorm/GELU steps 5-11 % faster (likely because the workers no longer fall asleep between products), the
# recurrent and attention steps unchanged. Read when OpenBLAS loads, so only if NumPy is not imported yet; a value
# the user set is kept.
if "numpy" not in _sys.modules:
    _os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "24")
del _os, _sys

from . import allocator as _allocator  # noqa: E402
_allocator.tune()  # glibc's malloc thresholds for arrays reused every step (descend/allocator.py)

from . import backend  # noqa: E402
from .autograd import (Function, GradcheckError, GraphFreedError, enable_grad, gradcheck, is_grad_enabled,
                       no_grad, set_grad_enabled)
from .ops import pad
from .ops import bind_tensor_methods as _bind
from .functions import *  # noqa: F401,F403  (max, mm, allclose, inference_mode, ...: PyTorch's module-level forms)
from .random import get_rng_state, manual_seed, set_rng_state
from .tensor import Tensor
from .size import Size
from .creation import (arange, as_tensor, empty, empty_like, eye, from_numpy, full, full_like, linspace, ones,
                       ones_like, rand, rand_like, randint, randn, randn_like, randperm, tensor, zeros, zeros_like)
from .device import DeviceUnavailableError, device, get_default_device, set_default_device
from .dtypes import get_default_dtype, set_default_dtype
from .unsupported import UnsupportedError
from .size import Size
from . import accelerator, backends, cuda  # noqa: E402

_bind(Tensor)  # operators and PyTorch-named methods, before any module builds a tensor
del _bind

from . import data, nn, optim  # noqa: E402
from . import utils  # noqa: E402  (torch.utils.data names: descend.utils.data)
from .io.checkpoint import load, save  # noqa: E402
from .train import History, Trainer  # noqa: E402
from .app import run_training  # noqa: E402
from . import diagnose  # noqa: E402
from . import tune  # noqa: E402  (descend.tune(config, ...) runs a study: the package is callable)

# PyTorch's dtype names; each is a NumPy dtype (descend.float32 == np.dtype('float32')). Defined last: three of
# them (float, int, bool) shadow Python's built-ins in this module.
from .dtypes import (float16, float32, float64, int8, int16, int32, int64, uint8)  # noqa: E402
from .dtypes import bool_ as bool  # noqa: E402,A001
from .dtypes import float32 as float  # noqa: E402,A001
from .dtypes import float64 as double  # noqa: E402
from .dtypes import float16 as half  # noqa: E402
from .dtypes import int32 as int  # noqa: E402,A001
from .dtypes import int64 as long  # noqa: E402
from .dtypes import int16 as short  # noqa: E402
dtype = backend.np.dtype  # isinstance(x.dtype, descend.dtype)

__version__ = "0.1.0"


def __getattr__(name):
    """A submodule not imported yet, else :class:`UnsupportedError` naming the missing PyTorch function."""
    import importlib.util
    from .unsupported import unsupported
    if not name.startswith("_") and importlib.util.find_spec(f"{__name__}.{name}") is not None:
        return importlib.import_module(f"{__name__}.{name}")
    raise unsupported("descend", "torch", name)
