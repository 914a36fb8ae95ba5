"""Optimiser playground: descend's optimisers on the test surfaces reach (or, for GD on the saddle, do not
reach) the minima within a fixed budget; the surfaces' gradients match torch; the CLI writes its files."""

import json

import numpy as np
import pytest
import torch

import descend
from descend.cli import main
from descend.app import SURFACES, run_playground, trajectory


@pytest.mark.parametrize("name", list(SURFACES))
def test_surface_gradients_match_torch(name):
    f = SURFACES[name].f
    point = np.array([0.7, -0.4])
    p = descend.tensor(point, dtype="float64", requires_grad=True)
    f(p[0], p[1]).backward()
    t = torch.tensor(point, requires_grad=True)
    f(t[0], t[1]).backward()
    np.testing.assert_allclose(p.grad.array, t.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("surface, optimizer, tol", [
    ("ravine", "momentum", 1e-6), ("ravine", "Adam", 1e-6), ("ravine", "GD", 1e-6),
    ("rosenbrock", "Adam", 0.01), ("rosenbrock", "momentum", 0.05), ("rosenbrock", "Nesterov", 0.05),
    ("beale", "Adam", 1e-3), ("beale", "AdaGrad", 0.01), ("beale", "RMSprop", 0.02),
])
def test_converging_methods_end_near_the_minimum_in_1000_steps(surface, optimizer, tol):
    points, losses = trajectory(surface, optimizer, steps=1000)
    assert points.shape == (1001, 2)
    assert SURFACES[surface].distance(points[-1]) < tol
    assert losses[-1] < losses[0]


def test_plain_gd_lingers_in_the_rosenbrock_valley_where_adam_arrives():
    gd, _ = trajectory("rosenbrock", "GD", steps=1000)
    adam, _ = trajectory("rosenbrock", "Adam", steps=1000)
    assert SURFACES["rosenbrock"].distance(gd[-1]) > 1.0 > 100 * SURFACES["rosenbrock"].distance(adam[-1])


def test_gd_stays_at_the_saddle_while_momentum_and_adaptive_methods_escape():
    gd, _ = trajectory("saddle", "GD", steps=1000)
    assert np.hypot(*gd[-1]) < 0.05                           # still at the saddle point (0, 0)
    for name in ("momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam"):
        pts, losses = trajectory("saddle", name, steps=1000)
        assert SURFACES["saddle"].distance(pts[-1]) < 0.02, name   # at a minimum (0, ±√2), f = −1
        assert losses[-1] == pytest.approx(-1.0, abs=1e-3)


def test_playground_writes_plots_index_and_results(tmp_path, capsys):
    out = tmp_path / "pg"
    assert main(["playground", "--out", str(out), "--steps", "200"]) == 0
    for name in SURFACES:
        assert (out / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
        assert (out / f"{name}_loss.png").read_bytes()[:4] == b"\x89PNG"
    results = json.loads((out / "results.json").read_text())
    assert set(results) == set(SURFACES) and set(results["beale"]) == {"GD", "momentum", "Nesterov", "AdaGrad",
                                                                        "RMSprop", "Adam"}
    assert "<img" in (out / "index.html").read_text()
    assert "rosenbrock:" in capsys.readouterr().out


def test_playground_rejects_unknown_names():
    with pytest.raises(ValueError, match="unknown surface"):
        run_playground(None, surfaces=["himmelblau"])
    with pytest.raises(ValueError, match="optimizer must be one of"):
        trajectory("ravine", "LBFGS")
