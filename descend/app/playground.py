"""Optimiser playground: descend's own optimisers on 2-D test surfaces, drawn as contour plots.

Each surface is a descend Tensor expression of a 2-element Parameter ``p = (x, y)``, so autograd gives
the gradient and the optimisers are exactly the classes users train with (``descend.optim.SGD``,
``Adagrad``, ``RMSprop``, ``Adam``). Surfaces (minimum in brackets):

* ``ravine``:     f = 0.5 (x² + κ y²), κ = 50 — an ill-conditioned quadratic       [(0, 0)]
* ``rosenbrock``: f = (1 − x)² + 100 (y − x²)²  (Rosenbrock 1960)                    [(1, 1)]
* ``saddle``:     f = x² − y² + y⁴/4 — a saddle at the origin, minima at (0, ±√2)    [(0, ±√2)]
  (started a hair off the saddle's ridge, y₀ = 1e-6: plain GD creeps away as (1 + 2η)^t)
* ``beale``:      f = (1.5 − x + xy)² + (2.25 − x + xy²)² + (2.625 − x + xy³)²        [(3, 0.5)]

``run_playground(out_dir)`` writes ``<surface>.png`` (contours + trajectories), ``<surface>_loss.png``
(loss per step, log y), ``index.html`` and ``results.json`` (final points and distances to the minimum).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .registry import OPTIMIZERS as OPTIMIZER_REGISTRY
from ..nn import Parameter


@dataclass(frozen=True)
class Surface:
    """A 2-D test function ``f(x, y)`` (Tensors or arrays), its start point, minima and plot window."""

    name: str
    f: object
    start: tuple
    minima: tuple
    xlim: tuple
    ylim: tuple
    formula: str

    def distance(self, point) -> float:
        """Distance from ``point`` to the nearest minimum."""
        return float(min(np.hypot(point[0] - a, point[1] - b) for a, b in self.minima))


def _ravine(x, y):
    return 0.5 * (x * x + 50.0 * (y * y))


def _rosenbrock(x, y):
    return (1.0 - x) ** 2 + 100.0 * (y - x * x) ** 2


def _saddle(x, y):
    return x * x - y * y + 0.25 * (y * y) * (y * y)


def _beale(x, y):
    return (1.5 - x + x * y) ** 2 + (2.25 - x + x * (y * y)) ** 2 + (2.625 - x + x * (y * y * y)) ** 2


SURFACES = {
    "ravine": Surface("ravine", _ravine, (-4.0, 1.0), ((0.0, 0.0),), (-4.5, 4.5), (-1.5, 1.5),
                      "0.5 (x² + 50 y²)"),
    "rosenbrock": Surface("rosenbrock", _rosenbrock, (-1.5, 2.0), ((1.0, 1.0),), (-2.0, 2.0), (-1.0, 3.0),
                          "(1 − x)² + 100 (y − x²)²"),
    "saddle": Surface("saddle", _saddle, (-1.5, 1e-6), ((0.0, 2 ** 0.5), (0.0, -(2 ** 0.5))), (-2.0, 2.0),
                      (-2.0, 2.0), "x² − y² + y⁴/4"),
    "beale": Surface("beale", _beale, (1.0, 1.5), ((3.0, 0.5),), (-0.5, 4.0), (-1.5, 2.0),
                     "(1.5 − x + xy)² + (2.25 − x + xy²)² + (2.625 − x + xy³)²"),
}

#: The optimisers drawn: label → name in the app's optimiser registry (:data:`descend.app.registry.OPTIMIZERS`),
#: built there exactly as ``[optimizer] name = ...`` builds them (momentum 0.9, no weight decay). The learning
#: rates below are each method's usual scale for the surface (GD's is limited by the largest curvature: 2/L).
OPTIMIZERS = {"GD": "sgd", "momentum": "momentum", "Nesterov": "nesterov", "AdaGrad": "adagrad",
              "RMSprop": "rmsprop", "Adam": "adam"}
LEARNING_RATES = {
    "ravine": {"GD": 0.035, "momentum": 0.01, "Nesterov": 0.01, "AdaGrad": 0.5, "RMSprop": 0.01, "Adam": 0.1},
    "rosenbrock": {"GD": 1e-3, "momentum": 1e-3, "Nesterov": 1e-3, "AdaGrad": 1.0, "RMSprop": 0.01, "Adam": 0.1},
    "saddle": {"GD": 0.005, "momentum": 0.005, "Nesterov": 0.005, "AdaGrad": 0.1, "RMSprop": 0.01, "Adam": 0.05},
    "beale": {"GD": 0.01, "momentum": 1e-3, "Nesterov": 1e-3, "AdaGrad": 1.0, "RMSprop": 0.01, "Adam": 0.1},
}


def make_optimizer(label: str, params, lr: float):
    """The registered optimiser a playground label names, over ``params`` at rate ``lr``."""
    name = OPTIMIZERS.get(label, label)
    return OPTIMIZER_REGISTRY.build(name, list(params), {"name": name, "lr": lr, "weight_decay": 0.0,
                                                         "momentum": 0.9})


def trajectory(surface, optimizer: str, steps: int = 1000, lr: float | None = None):
    """Run one optimiser on one surface from its start point; returns ((steps+1, 2) points, (steps+1,) losses).

    The point is a ``descend.nn.Parameter`` of 2 float64 elements; ``f`` is evaluated on Tensor slices of
    it, so the gradient comes from autograd and the step from the optimiser class itself.
    """
    surface = SURFACES[surface] if isinstance(surface, str) else surface
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {optimizer!r}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    lr = LEARNING_RATES.get(surface.name, {}).get(optimizer, 0.01) if lr is None else lr
    p = Parameter(np.array(surface.start, dtype=np.float64), dtype=np.float64)
    opt = make_optimizer(optimizer, [p], lr)
    points, losses = [p.array.copy()], []
    for _ in range(steps):
        value = surface.f(p[0], p[1])
        losses.append(float(value.array))
        opt.zero_grad()
        value.backward()
        opt.step()
        points.append(p.array.copy())
        if not np.isfinite(p.array).all():
            break
    losses.append(float(surface.f(*points[-1])))
    return np.array(points), np.array(losses)


def run_playground(out_dir=None, steps: int = 1000, surfaces=None, optimizers=None, progress=None) -> dict:
    """Every optimiser on every surface; writes the plots, ``index.html`` and ``results.json`` to ``out_dir``
    (when given); ``progress`` (``update(n, note)`` / ``close()``) hears of each trajectory. Returns ``{surface: {optimiser: {"final": [x, y], "distance": d, "loss": f}}}``."""
    from ..io import Report, atomic_write_json
    from ..io.plots import plot_contour, plot_lines
    names = list(surfaces or SURFACES)
    opts = list(optimizers or OPTIMIZERS)
    unknown = [s for s in names if s not in SURFACES]
    if unknown:
        raise ValueError(f"unknown surface(s) {unknown}; choose from {', '.join(SURFACES)}")
    results = {}
    out = None if out_dir is None else Path(out_dir)
    report = Report("descend optimiser playground", subtitle=f"{steps} steps per optimiser")
    for name in names:
        s = SURFACES[name]
        paths, curves = {}, {}
        results[name] = {}
        for o in opts:
            pts, losses = trajectory(s, o, steps)
            paths[o], curves[o] = pts, losses
            final = pts[-1]
            results[name][o] = {"final": final.tolist(), "distance": s.distance(final), "loss": float(losses[-1]),
                                "lr": LEARNING_RATES[name][o]}
            if progress is not None:
                progress.update(1, f"{name}: {o}")
        if out is not None:
            clipped = {o: np.clip(p, [s.xlim[0] - 1, s.ylim[0] - 1], [s.xlim[1] + 1, s.ylim[1] + 1])
                       for o, p in paths.items()}
            contour = plot_contour(s.f, clipped, out / f"{name}.png", xlim=s.xlim, ylim=s.ylim,
                                   title=f"{name}: f = {s.formula}")
            n = max(len(c) for c in curves.values())
            floor = min(float(np.nanmin(c)) for c in curves.values())
            shift = -floor + 1e-12 if floor <= 0 else 0.0   # the saddle's minimum is negative
            padded = {o: np.concatenate([c, np.full(n - len(c), np.nan)]) + shift for o, c in curves.items()}
            loss_png = plot_lines(np.arange(n), padded, out / f"{name}_loss.png", logy=True, xlabel="step",
                                  ylabel="f" + (f" + {shift:.3g}" if shift else ""), title=f"{name}: loss per step")
            report.section(f"{name}: f = {s.formula}")
            report.image(contour, caption="trajectories (o start, * end)")
            report.image(loss_png, caption="loss per step")
            report.table([{"optimizer": o, "lr": r["lr"], "final x": r["final"][0], "final y": r["final"][1],
                           "distance to minimum": r["distance"], "f": r["loss"]} for o, r in results[name].items()])
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        report.save(out / "index.html")
        atomic_write_json(out / "results.json", results)
    if progress is not None:
        progress.close()
    return results
