"""``Parameter`` and ``Module``: the base of every layer and model.

A :class:`Module` registers what is assigned to it as an attribute, in assignment order:

* a :class:`Parameter` (a Tensor that requires grad) becomes a *parameter*, trained by optimisers;
* a :class:`Module` becomes a *child*, whose parameters and buffers are found recursively;
* ``register_buffer(name, array)`` adds a *buffer*: state that is saved but not trained (BatchNorm's
  ``running_mean``).

Names follow PyTorch's, so ``state_dict()`` keys (``"0.weight"``, ``"features.1.running_mean"``) match
those of the same architecture built with ``torch.nn`` and weights move between the two with
``load_state_dict``.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict, namedtuple
from collections.abc import Callable

import numpy as np

from .. import backend
from ..device import check_device, to_arguments
from ..tensor import Tensor
from .fusion import structure_changed

__all__ = ["Parameter", "Module", "StateDictError", "RemovableHandle", "IncompatibleKeys"]


class Parameter(Tensor):
    """A Tensor that a :class:`Module` registers as trainable when assigned as an attribute.

    ``Parameter(data, requires_grad=True, dtype=None)``: floating data becomes float32 unless ``dtype``
    is given or ``data`` is already a descend Tensor (whose dtype is kept). The array is not copied when
    no conversion is needed.
    """

    __slots__ = ()

    def __init__(self, data=None, requires_grad: bool = True, dtype=None):
        if data is None:
            data = backend.empty((0,))
        if isinstance(data, Tensor):
            arr = data.array if dtype is None else data.array.astype(backend.resolve_dtype(dtype), copy=False)
        else:
            arr = backend.as_array(data, dtype)
        if arr.dtype.kind != "f" and requires_grad:
            raise TypeError(f"a Parameter that requires grad must hold floating-point data, got {arr.dtype}; "
                            "pass float data or requires_grad=False")
        self.array = arr
        self.grad = None
        self._node = None
        self.requires_grad = bool(requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    def __reduce_ex__(self, protocol):
        return (_rebuild_parameter, (self.array, self.requires_grad, self.grad))


def _rebuild_parameter(data, requires_grad, grad):
    p = Parameter(data, requires_grad=requires_grad, dtype=data.dtype)
    p.grad = grad
    return p


IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class StateDictError(RuntimeError):
    """``load_state_dict`` found missing, unexpected or mis-shaped keys (all of them are listed)."""


class RemovableHandle:
    """Returned by ``register_forward_hook``; ``handle.remove()`` unregisters the hook."""

    _ids = itertools.count()

    def __init__(self, hooks: dict):
        self._hooks = hooks
        self.id = next(RemovableHandle._ids)

    def remove(self) -> None:
        self._hooks.pop(self.id, None)
        structure_changed()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
        return False


def _to_numpy(value) -> np.ndarray:
    """An array from a descend Tensor, a NumPy array, a number, or any tensor with ``.detach().numpy()``."""
    if isinstance(value, Tensor):
        return value.array
    if isinstance(value, np.ndarray):
        return value
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # e.g. a torch tensor
        return np.asarray(value.detach().cpu().numpy() if hasattr(value, "cpu") else value.detach().numpy())
    return np.asarray(value)


class Module:
    """Base class of layers and models: subclass it, assign layers and parameters in ``__init__``, and
    write ``forward``. Calling the module runs ``forward`` (and any forward hooks).

    >>> class MLP(Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.fc1 = Linear(4, 8)
    ...         self.fc2 = Linear(8, 2)
    ...     def forward(self, x):
    ...         return self.fc2(self.fc1(x).relu())
    """

    def __init__(self):
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks", OrderedDict())

    # ---------------------------------------------------------------- registration
    def _check_init(self, name):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {name!r} before Module.__init__() is called; call "
                                 "super().__init__() first in your module's __init__")

    def __setattr__(self, name, value):
        if isinstance(value, Parameter):
            self._check_init(name)
            self._remove_from(name, keep="_parameters")
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._check_init(name)
            self._remove_from(name, keep="_modules")
            self._modules[name] = value
            structure_changed()
        elif "_parameters" in self.__dict__ and name in self._parameters:
            if value is not None:
                raise TypeError(f"cannot assign a {type(value).__name__} to parameter {name!r}; assign a "
                                "Parameter (or None), or update it in place with .data / copy_()")
            self._parameters[name] = None
        elif "_buffers" in self.__dict__ and name in self._buffers:
            self._buffers[name] = None if value is None else self._as_buffer(value)
        elif "_modules" in self.__dict__ and name in self._modules:
            if value is not None:
                raise TypeError(f"cannot assign a {type(value).__name__} to child module {name!r}; assign a "
                                "Module (or None)")
            self._modules[name] = None
            structure_changed()
        else:
            if name == "forward":
                structure_changed()  # calling the module no longer runs its class's forward (fusion.py)
            object.__setattr__(self, name, value)

    def _remove_from(self, name, keep):
        for store in ("_parameters", "_buffers", "_modules"):
            if store != keep:
                getattr(self, store).pop(name, None)
        self.__dict__.pop(name, None)

    def __getattr__(self, name):
        # Only called when normal lookup fails: look in the registries.
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            if store in d and name in d[store]:
                return d[store][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute {name!r}")

    def __delattr__(self, name):
        for store in ("_parameters", "_buffers", "_modules"):
            if name in self.__dict__.get(store, {}):
                del self.__dict__[store][name]
                self._non_persistent.discard(name)
                structure_changed()
                return
        if name == "forward":
            structure_changed()
        object.__delattr__(self, name)

    @staticmethod
    def _as_buffer(value) -> Tensor:
        if isinstance(value, Tensor):
            return Tensor.from_array(value.array)
        arr = value if isinstance(value, np.ndarray) and value.dtype.kind in "fiub" else backend.as_array(value)
        return Tensor.from_array(arr)

    def register_buffer(self, name: str, tensor, persistent: bool = True) -> None:
        """Register ``tensor`` (an array or Tensor, or None) as a buffer: saved in ``state_dict`` (unless
        ``persistent=False``) and moved by ``.double()``, but not returned by ``parameters()``.
        It is stored as a Tensor that does not require grad; update it in place (``buf.array[...] = ...``)."""
        self._check_init(name)
        if not isinstance(name, str) or not name or "." in name:
            raise KeyError(f"buffer name must be a non-empty string without '.', got {name!r}")
        if name in self.__dict__ or name in self._parameters or name in self._modules:
            raise KeyError(f"attribute {name!r} already exists on {type(self).__name__}; choose another buffer name")
        self._buffers[name] = None if tensor is None else self._as_buffer(tensor)
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)

    def register_parameter(self, name: str, param) -> None:
        """Register ``param`` (a Parameter or None) under ``name``."""
        self._check_init(name)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter({name!r}, ...) needs a Parameter or None, got {type(param).__name__}")
        self._remove_from(name, keep="_parameters")
        self._parameters[name] = param

    def add_module(self, name: str, module) -> None:
        """Register ``module`` (a Module or None) as a child called ``name``."""
        self._check_init(name)
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module({name!r}, ...) needs a Module or None, got {type(module).__name__}")
        self._remove_from(name, keep="_modules")
        self._modules[str(name)] = module
        structure_changed()

    register_module = add_module

    # ---------------------------------------------------------------- traversal
    def named_modules(self, memo=None, prefix: str = "", remove_duplicate: bool = True):
        """Yield ``(name, module)`` for this module (name ``""``) and every descendant, depth first."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            if child is None:
                continue
            yield from child.named_modules(memo, prefix + ("." if prefix else "") + name, remove_duplicate)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        seen = set()
        for name, child in self._modules.items():
            if child is not None and id(child) not in seen:
                seen.add(id(child))
                yield name, child

    def children(self):
        for _, child in self.named_children():
            yield child

    def _named_members(self, store, prefix, recurse, remove_duplicate=True):
        seen = set()
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        for mod_prefix, module in modules:
            for name, value in getattr(module, store).items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield mod_prefix + ("." if mod_prefix else "") + name, value

    def named_parameters(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        """Yield ``(name, parameter)`` pairs, each shared parameter once, in registration order."""
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def get_submodule(self, target: str) -> "Module":
        """The descendant called ``target`` (``"features.0"``); ``""`` is this module."""
        module = self
        for part in target.split(".") if target else []:
            if part not in module._modules or module._modules[part] is None:
                raise AttributeError(f"{type(module).__name__} has no child module {part!r} (looking up {target!r}); "
                                     f"its children are {list(module._modules)}")
            module = module._modules[part]
        return module

    def apply(self, fn) -> "Module":
        """Call ``fn(module)`` on every child (recursively) and then on this module; returns self."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # ---------------------------------------------------------------- modes, gradients, dtype
    def train(self, mode: bool = True) -> "Module":
        """Set training mode (dropout active, batch statistics in BatchNorm) here and in every child."""
        if not isinstance(mode, bool):
            raise TypeError(f"train(mode) expects a bool, got {mode!r}; use eval() for evaluation mode")
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> "Module":
        """Set evaluation mode (``train(False)``); returns self."""
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's gradient (to None, or to zeros with ``set_to_none=False``)."""
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad.array[...] = 0

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        """Freeze (``False``) or unfreeze every parameter; returns self."""
        for p in self.parameters():
            p.requires_grad = bool(requires_grad)
        return self

    def double(self) -> "Module":
        return self.to(np.float64)

    def float(self) -> "Module":
        return self.to(np.float32)

    # ---------------------------------------------------------------- state
    def state_dict(self, destination=None, prefix: str = "", keep_vars: bool = False) -> "OrderedDict[str, np.ndarray]":
        """An ordered dict ``name -> array`` of every parameter and persistent buffer (copies, unless
        ``keep_vars=True`` which gives the live Tensors). Order: a module's own parameters, then its
        buffers, then its children's, as in PyTorch."""
        if destination is None:
            destination = OrderedDict()
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.array.copy()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent:
                destination[prefix + name] = b if keep_vars else b.array.copy()
        for name, child in self._modules.items():
            if child is not None:
                child.state_dict(destination, prefix + name + ".", keep_vars)
        return destination

    def load_state_dict(self, state_dict, strict: bool = True) -> IncompatibleKeys:
        """Copy ``state_dict``'s arrays into this module's parameters and buffers, in place.

        Values may be NumPy arrays, descend Tensors or anything with ``.detach().numpy()`` (a torch
        tensor), so weights move between descend and PyTorch. Copies go into the existing arrays
        (``np.copyto``), so an optimiser holding the parameters keeps working.

        With ``strict=True`` a missing or unexpected key is an error; a mis-shaped one always is. The
        error lists every bad key at once and nothing is copied. Returns ``(missing_keys,
        unexpected_keys)``.
        """
        if not hasattr(state_dict, "keys"):
            raise TypeError(f"load_state_dict expects a mapping name -> array, got {type(state_dict).__name__}")
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        mismatched = []
        arrays = {}
        for key, target in own.items():
            if key not in state_dict:
                continue
            src = _to_numpy(state_dict[key])
            if src.shape != target.array.shape:
                mismatched.append(f"{key}: checkpoint {tuple(src.shape)} vs model {tuple(target.array.shape)}")
            else:
                arrays[key] = src
        if mismatched or (strict and (missing or unexpected)):
            lines = [f"load_state_dict into {type(self).__name__} failed:"]
            if missing and strict:
                lines.append(f"  missing keys ({len(missing)}): {', '.join(missing)}")
            if unexpected and strict:
                lines.append(f"  unexpected keys ({len(unexpected)}): {', '.join(unexpected)}")
            if mismatched:
                lines.append(f"  shape mismatch ({len(mismatched)}): " + "; ".join(mismatched))
            lines.append("  hint: the checkpoint must come from the same architecture; pass strict=False to load "
                         "the matching keys only")
            raise StateDictError("\n".join(lines))
        for key, src in arrays.items():
            np.copyto(own[key].array, src, casting="unsafe")
        return IncompatibleKeys(missing, unexpected)

    # ---------------------------------------------------------------- calling
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward(); define forward(self, ...) in the subclass")

    def register_forward_hook(self, hook) -> RemovableHandle:
        """Call ``hook(module, inputs, output)`` after every forward (``inputs`` is the tuple of positional
        arguments). If the hook returns something other than None, that replaces the output.
        Returns a handle; ``handle.remove()`` unregisters it."""
        if not callable(hook):
            raise TypeError(f"register_forward_hook needs a callable hook(module, inputs, output), got {hook!r}")
        handle = RemovableHandle(self._forward_hooks)
        self._forward_hooks[handle.id] = hook
        structure_changed()
        return handle

    def register_forward_pre_hook(self, hook) -> RemovableHandle:
        """Call ``hook(module, inputs)`` before every forward; a non-None result replaces the inputs."""
        if not callable(hook):
            raise TypeError(f"register_forward_pre_hook needs a callable hook(module, inputs), got {hook!r}")
        handle = RemovableHandle(self._forward_pre_hooks)
        self._forward_pre_hooks[handle.id] = hook
        structure_changed()
        return handle

    def fuse_next(self, module) -> Callable | None:
        """A function f with f(x) equal, bit for bit, to ``module(self(x))`` run as one operation, or None
        (this default): the fusion seam (:mod:`descend.nn.fusion`). Containers ask it only when neither
        module has hooks or an instance ``forward``; an override must return None whenever it cannot
        reproduce ``module(self(x))`` exactly (e.g. a subclass that overrides ``forward``)."""
        return None

    def __call__(self, *args, **kwargs):
        if self._forward_pre_hooks:
            for hook in list(self._forward_pre_hooks.values()):
                result = hook(self, args)
                if result is not None:
                    args = result if isinstance(result, tuple) else (result,)
        out = self.forward(*args, **kwargs)
        if self._forward_hooks:
            for hook in list(self._forward_hooks.values()):
                result = hook(self, args, out)
                if result is not None:
                    out = result
        return out

    # ---------------------------------------------------------------- description
    def extra_repr(self) -> str:
        """The text inside this module's parentheses in its repr (its hyperparameters)."""
        return ""

    def _get_name(self) -> str:
        return type(self).__name__

    def __repr__(self):
        extra = self.extra_repr()
        children = [(name, m) for name, m in self._modules.items() if m is not None]
        if not children:
            return f"{self._get_name()}({extra})"
        lines = [extra] if extra else []
        for name, child in children:
            body = repr(child).replace("\n", "\n  ")
            lines.append(f"({name}): {body}")
        return self._get_name() + "(\n  " + "\n  ".join(lines) + "\n)"

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers) | set(self._modules))

    def num_parameters(self, trainable_only: bool = False) -> int:
        """Number of scalar parameters (each shared parameter counted once)."""
        return int(sum(p.array.size for p in self.parameters() if p.requires_grad or not trainable_only))

    def summary(self, input_shape, print_summary: bool = True, dtype=None):
        """Run a zero batch of ``input_shape`` through the model and tabulate each layer's output shape
        and parameter count; see :func:`descend.nn.summary`."""
        from .summary import summary
        return summary(self, input_shape, print_summary=print_summary, dtype=dtype)

    def to(self, *args, **kwargs) -> "Module":
        """PyTorch's ``to``: ``to(dtype)``, ``to(device)``, ``to(device, dtype)``, ``to(tensor)``; returns self.

        The dtype (floating only, e.g. ``descend.float64`` for gradcheck) is given to every floating parameter
        and buffer; integer buffers are left alone. The arrays are replaced, so build optimisers after casting.
        A device other than the CPU raises :class:`~descend.device.DeviceUnavailableError`.
        """
        _, dtype, _ = to_arguments(args, kwargs)
        if dtype is None:
            return self
        if dtype.kind != "f":
            raise TypeError(f"Module.to() casts to a floating dtype, got {dtype}")
        for module in self.modules():
            for store in (module._parameters, module._buffers):
                for t in store.values():
                    if t is not None and t.array.dtype.kind == "f" and t.array.dtype != dtype:
                        t.array = t.array.astype(dtype)
                        if t.grad is not None:
                            t.grad.array = t.grad.array.astype(dtype)
        return self

    def cpu(self) -> "Module":
        """Self (descend computes on the CPU)."""
        return self

    def cuda(self, device=None) -> "Module":
        """Raises :class:`~descend.device.DeviceUnavailableError`: descend has no GPU."""
        check_device("cuda" if device is None else device)
        return self
