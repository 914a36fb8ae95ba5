"""L-BFGS: a limited-memory quasi-Newton method over all parameters as one flat vector, with the closure API.

Not a chain of element-wise rules (its direction mixes all coordinates through inner products), so it is an
optimiser class of its own with PyTorch's interface: ``param_groups`` (one group), ``zero_grad``,
``step(closure)``, ``state``, ``state_dict`` / ``load_state_dict``.
"""

from __future__ import annotations

import copy

import numpy as np

from ..autograd import enable_grad
from ..tensor import Tensor
from .checks import check_nonneg
from .line_search import strong_wolfe

__all__ = ["LBFGS"]

_STATE_ARRAYS = ("d", "prev_flat_grad")
_STATE_LISTS = ("old_dirs", "old_stps")


def _check_count(name, value, allow_none=False):
    if allow_none and value is None:
        return value
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"invalid {name}: {value!r}; it must be a whole number >= 1")
    return int(value)


class LBFGS:
    """L-BFGS (Nocedal 1980; Liu & Nocedal 1989), as ``torch.optim.LBFGS``. Each ``step(closure)`` runs up to
    ``max_iter`` iterations of: the direction d = −H∇f from the two-loop recursion over the last
    ``history_size`` pairs (s = t d, y = ∇f' − ∇f, kept when y·s > 10⁻¹⁰), with H₀ = (y·s / y·y)·I; a step
    θ ← θ + t d with t = ``lr`` (the first iteration ever: t = min(1, 1/‖∇f‖₁)·lr), or the step of a strong
    Wolfe line search (``line_search_fn="strong_wolfe"``, :func:`descend.optim.line_search.strong_wolfe`).
    It stops early when max|∇f| ≤ ``tolerance_grad``, when ∇f·d > −``tolerance_change``, when
    max|t d| ≤ ``tolerance_change`` or |Δf| < ``tolerance_change``, or after ``max_eval`` closure calls
    (default max_iter·5/4).

    ``closure()`` must clear the gradients, compute the loss, call ``backward()`` and return the loss; it is
    called several times per step (with grad enabled) and ``step`` returns the loss of its first call.
    One parameter group (as PyTorch); all parameters of one floating dtype. Differences from PyTorch: bad
    arguments (``line_search_fn`` included) raise ``ValueError`` when the optimiser is made, not at the step.

    Args (PyTorch's order): params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7,
    tolerance_change=1e-9, history_size=100, line_search_fn=None.
    """

    def __init__(self, params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7, tolerance_change=1e-9,
                 history_size=100, line_search_fn=None):
        if isinstance(params, (Tensor, np.ndarray)):
            raise TypeError(f"params given to the optimiser should be an iterable of Tensors or dicts, but got "
                            f"{type(params).__name__}; pass model.parameters() or [tensor]")
        check_nonneg("lr", lr)
        max_iter = _check_count("max_iter", max_iter)
        max_eval = _check_count("max_eval", max_eval, allow_none=True)
        check_nonneg("tolerance_grad", tolerance_grad)
        check_nonneg("tolerance_change", tolerance_change)
        history_size = _check_count("history_size", history_size)
        if line_search_fn not in (None, "strong_wolfe"):
            raise ValueError(f"invalid line_search_fn: {line_search_fn!r}; give None or 'strong_wolfe'")
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        self.defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval, tolerance_grad=tolerance_grad,
                             tolerance_change=tolerance_change, history_size=history_size,
                             line_search_fn=line_search_fn)
        groups = list(params)
        if not groups:
            raise ValueError("optimiser got an empty parameter list; pass model.parameters() of a model that has "
                             "parameters")
        if isinstance(groups[0], dict):
            if len(groups) != 1:
                raise ValueError(f"LBFGS takes one parameter group, got {len(groups)}; it has no per-group options")
            group = dict(groups[0])
        else:
            group = {"params": groups}
        params = group.pop("params", None)
        params = [params] if isinstance(params, Tensor) else list(params or [])
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimisers can only update Tensors, but a parameter is a {type(p).__name__}")
        dtypes = {p.array.dtype for p in params}
        if not params or len(dtypes) != 1 or next(iter(dtypes)).kind != "f":
            raise TypeError(f"LBFGS needs one or more parameters of one floating dtype, got dtypes "
                            f"{sorted(str(d) for d in dtypes)}; convert them to one (e.g. float32)")
        self.param_groups = [{**self.defaults, **group, "params": params}]
        self._params = params
        self._state: dict = {}

    # ------------------------------------------------------------------ the flat vector
    def _flat_grad(self):
        return np.concatenate([np.zeros(p.array.size, p.array.dtype) if p.grad is None
                               else np.asarray(p.grad.array if isinstance(p.grad, Tensor) else p.grad,
                                               p.array.dtype).reshape(-1) for p in self._params])

    def _add(self, t, d):
        """θ ← θ + t d, in each parameter's own array."""
        at = 0
        for p in self._params:
            n = p.array.size
            p.array += (d[at:at + n] * t).reshape(p.array.shape).astype(p.array.dtype, copy=False)
            at += n

    def _evaluate(self, closure):
        with enable_grad():
            loss = closure()
        return float(loss), self._flat_grad()

    # ------------------------------------------------------------------ PyTorch API
    @property
    def state(self) -> dict:
        """``{first parameter: {'func_evals', 'n_iter', 'd', 't', 'old_dirs', 'old_stps', 'ro', 'H_diag',
        'prev_flat_grad', 'prev_loss', 'al'}}`` as PyTorch keeps it (empty before the first step)."""
        return {self._params[0]: self._state} if self._state else {}

    def add_param_group(self, param_group):
        raise ValueError("LBFGS takes one parameter group; put every parameter in it when making the optimiser")

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients: set each ``.grad`` to None (default) or fill it with zeros."""
        for p in self._params:
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.array[...] = 0

    def step(self, closure=None):
        """Run up to ``max_iter`` L-BFGS iterations; ``closure`` re-evaluates the loss and its gradients.
        Returns the loss of the first evaluation."""
        if closure is None or not callable(closure):
            raise TypeError("LBFGS.step needs a closure that clears the gradients, computes the loss, calls "
                            "loss.backward() and returns the loss: opt.step(closure)")
        group = self.param_groups[0]
        lr, max_iter, max_eval = float(group["lr"]), group["max_iter"], group["max_eval"]
        tol_grad, tol_change = group["tolerance_grad"], group["tolerance_change"]
        history_size, line_search = group["history_size"], group["line_search_fn"]
        state = self._state
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)
        with enable_grad():
            first_loss = closure()
        loss, flat_grad = float(first_loss), self._flat_grad()
        evals = 1
        state["func_evals"] += 1
        if np.abs(flat_grad).max() <= tol_grad:
            return first_loss
        d, t = state.get("d"), state.get("t")
        old_dirs, old_stps, ro = state.get("old_dirs"), state.get("old_stps"), state.get("ro")
        h_diag, prev_flat_grad, prev_loss = state.get("H_diag"), state.get("prev_flat_grad"), state.get("prev_loss")
        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                d = -flat_grad
                old_dirs, old_stps, ro, h_diag = [], [], [], 1
            else:
                d, h_diag = self._direction(flat_grad, prev_flat_grad, d, t, old_dirs, old_stps, ro, h_diag,
                                            history_size)
            prev_flat_grad = flat_grad.copy()
            prev_loss = loss
            t = min(1.0, 1.0 / np.abs(flat_grad).sum()) * lr if state["n_iter"] == 1 else lr
            gtd = flat_grad.dot(d)
            if gtd > -tol_change:  # not a descent direction
                break
            ls_evals = 0
            if line_search is not None:
                x0 = [p.array.copy() for p in self._params]

                def evaluate(step):
                    self._add(step, d)
                    out = self._evaluate(closure)
                    for p, a in zip(self._params, x0):
                        p.array[...] = a
                    return out

                loss, flat_grad, t, ls_evals = strong_wolfe(evaluate, t, d, loss, flat_grad, gtd,
                                                            tolerance_change=tol_change, max_ls=max_eval - evals)
                self._add(t, d)
                converged = np.abs(flat_grad).max() <= tol_grad
            else:
                self._add(t, d)
                converged = False
                if n_iter != max_iter:
                    loss, flat_grad = self._evaluate(closure)
                    converged = np.abs(flat_grad).max() <= tol_grad
                    ls_evals = 1
            evals += ls_evals
            state["func_evals"] += ls_evals
            if (n_iter == max_iter or evals >= max_eval or converged or np.abs(d * t).max() <= tol_change
                    or abs(loss - prev_loss) < tol_change):
                break
        state.update(d=d, t=t, old_dirs=old_dirs, old_stps=old_stps, ro=ro, H_diag=h_diag,
                     prev_flat_grad=prev_flat_grad, prev_loss=prev_loss)
        return first_loss

    def _direction(self, flat_grad, prev_flat_grad, d, t, old_dirs, old_stps, ro, h_diag, history_size):
        """Store the newest curvature pair (if y·s > 10⁻¹⁰) and return (−H∇f by the two-loop recursion, H₀'s
        scale y·s / y·y)."""
        y = flat_grad - prev_flat_grad
        s = d * t
        ys = y.dot(s)
        if ys > 1e-10:
            if len(old_dirs) == history_size:
                old_dirs.pop(0)
                old_stps.pop(0)
                ro.pop(0)
            old_dirs.append(y)
            old_stps.append(s)
            ro.append(1.0 / ys)
            h_diag = ys / y.dot(y)
        al = self._state.setdefault("al", [None] * history_size)
        q = -flat_grad
        for i in range(len(old_dirs) - 1, -1, -1):
            al[i] = old_stps[i].dot(q) * ro[i]
            q -= old_dirs[i] * al[i]
        r = q * h_diag
        for i in range(len(old_dirs)):
            be = old_dirs[i].dot(r) * ro[i]
            r += old_stps[i] * (al[i] - be)
        return r, h_diag

    def state_dict(self) -> dict:
        """``{'state': {0: the state (copies)}, 'param_groups': [{options..., 'params': [0, ..., n − 1]}]}``."""
        group = {k: v for k, v in self.param_groups[0].items() if k != "params"}
        group["params"] = list(range(len(self._params)))
        return {"state": {0: copy.deepcopy(self._state)} if self._state else {}, "param_groups": [group]}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore what :meth:`state_dict` saved (the same parameters are required)."""
        groups = state_dict["param_groups"]
        if len(groups) != 1 or len(groups[0]["params"]) != len(self._params):
            raise ValueError(f"the state dict has {len(groups)} parameter group(s) with "
                             f"{[len(g['params']) for g in groups]} parameters; this LBFGS has one group of "
                             f"{len(self._params)}")
        saved = dict(state_dict["state"])
        entry = copy.deepcopy(next(iter(saved.values()))) if saved else {}
        for k in _STATE_ARRAYS:
            if entry.get(k) is not None:
                entry[k] = np.asarray(entry[k])
        for k in _STATE_LISTS:
            if entry.get(k) is not None:
                entry[k] = [np.asarray(a) for a in entry[k]]
        self._state = entry
        self.param_groups[0].update({k: v for k, v in groups[0].items() if k != "params"})

    def __repr__(self):
        opts = "\n".join(f"    {k}: {v}" for k, v in self.param_groups[0].items() if k != "params")
        return f"LBFGS (\nParameter Group 0\n{opts}\n)"
