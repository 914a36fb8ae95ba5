"""Plots: every function yields a valid PNG of the promised size, drawn from the data, without pyplot."""

import io
import subprocess
import sys

import matplotlib.image as mpimg
import numpy as np
import pytest

from descend.io import plots
from descend.train.history import History

PNG = b"\x89PNG\r\n\x1a\n"
HIST = {"loss": [1.0, 0.6, 0.4, 0.35], "val_loss": [1.1, 0.7, 0.5, 0.45],
        "accuracy": [0.5, 0.7, 0.8, 0.85], "val_accuracy": [0.45, 0.65, 0.75, 0.8],
        "lr": [0.1, 0.1, 0.01, 0.01]}


def decode(png: bytes) -> np.ndarray:
    assert isinstance(png, bytes) and png.startswith(PNG), "not PNG bytes"
    return mpimg.imread(io.BytesIO(png), format="png")


def ink(img) -> float:
    """Fraction of pixels that are not (near) white: 0 for a blank canvas."""
    return float(np.mean(img[..., :3].min(axis=-1) < 0.9))


def _rosenbrock(x, y):
    return (1 - x) ** 2 + 100 * (y - x ** 2) ** 2


CASES = {
    "loss": (lambda p: plots.plot_loss(HIST, p), (400, 640)),
    "metrics": (lambda p: plots.plot_metrics(HIST, p), (400, 640)),
    "lr": (lambda p: plots.plot_lr(np.geomspace(1e-6, 1.0, 200), p), (400, 640)),
    "confusion": (lambda p: plots.plot_confusion_matrix([[50, 2, 1], [3, 40, 7], [0, 5, 45]], p,
                                                        class_names=["cat", "dog", "eel"]), (500, 560)),
    "compare": (lambda p: plots.compare({"sgd": HIST, "adam": {"val_loss": [0.9, 0.5, 0.3, 0.2]}}, "val_loss", p),
                (400, 640)),
    "lines": (lambda p: plots.plot_lines(np.geomspace(1e-5, 1, 60), {"loss": np.linspace(2.3, 0.5, 60)}, p,
                                         logx=True, vlines={"suggested": 1e-3}), (400, 640)),
    "contour": (lambda p: plots.plot_contour(_rosenbrock, {"sgd": np.array([[-1.5, 2.0], [-1.0, 1.0], [0.5, 0.3],
                                                                            [1.0, 1.0]])}, p), (520, 640)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_plot_returns_png_bytes_of_expected_size_with_content(name):
    fn, (h, w) = CASES[name]
    img = decode(fn(None))
    assert img.shape == (h, w, 4)
    assert ink(img) > 0.01, "the figure is blank"


@pytest.mark.parametrize("name", sorted(CASES))
def test_plot_writes_png_file_atomically_and_returns_path(tmp_path, name):
    fn, (h, w) = CASES[name]
    path = fn(tmp_path / "sub" / f"{name}.png")
    assert path == tmp_path / "sub" / f"{name}.png"
    data = path.read_bytes()
    assert len(data) > 1000 and data.startswith(PNG)
    assert mpimg.imread(path).shape == (h, w, 4)
    assert sorted(p.name for p in path.parent.iterdir()) == [f"{name}.png"]   # no temp file left


def test_plots_are_deterministic_and_depend_on_the_data():
    a = plots.plot_loss(HIST)
    assert a == plots.plot_loss(HIST)
    assert a != plots.plot_loss({**HIST, "val_loss": [1.1, 0.9, 0.8, 0.9]})


def test_history_object_and_row_list_give_the_same_picture_as_columns():
    h = History()
    for e in range(4):
        h.append(e, {k: v[e] for k, v in HIST.items()})
    rows = [{"epoch": e, **{k: v[e] for k, v in HIST.items()}} for e in range(4)]
    expected = plots.plot_loss(HIST)
    assert plots.plot_loss(h) == expected
    assert plots.plot_loss(rows) == expected
    assert plots.plot_lr(h) == plots.plot_lr(rows)


def test_figure_size_and_dpi_set_pixel_dimensions():
    assert decode(plots.plot_loss(HIST, figsize=(3, 2), dpi=50)).shape == (100, 150, 4)


def test_missing_columns_list_what_was_recorded():
    with pytest.raises(KeyError, match=r"no \['f1'\].*accuracy"):
        plots.plot_metrics(HIST, metrics=["f1"])
    with pytest.raises(KeyError, match="no loss column"):
        plots.plot_loss({"accuracy": [0.1]})
    with pytest.raises(KeyError, match=r"run 'b'.*no \['val_loss'\]"):
        plots.compare({"a": HIST, "b": {"loss": [1.0]}})


def test_lr_log_axis_chosen_for_wide_positive_ranges_only():
    assert plots._auto_log(np.geomspace(1e-6, 1e-1, 10))
    assert not plots._auto_log(np.linspace(0.05, 0.1, 10))       # narrow range: linear
    assert not plots._auto_log(np.array([0.0, 0.1, 0.2]))         # warm-up from 0: log impossible
    log = plots.plot_lr(np.geomspace(1e-6, 1e-1, 50))
    assert log != plots.plot_lr(np.geomspace(1e-6, 1e-1, 50), logy=False)
    assert log == plots.plot_lr(np.geomspace(1e-6, 1e-1, 50), logy=True)


def test_confusion_matrix_colours_follow_counts():
    """The diagonal-heavy matrix must put dark cells on the diagonal: compare mean darkness of the
    image's left-top quadrant of cells for [[big, 0], [0, 0]] vs [[0, 0], [0, big]]."""
    a = decode(plots.plot_confusion_matrix([[100, 0], [0, 0]]))[..., :3].mean(axis=-1)
    b = decode(plots.plot_confusion_matrix([[0, 0], [0, 100]]))[..., :3].mean(axis=-1)
    # the figure is the same except which cell is dark: the difference must be large and localised
    diff = a - b
    assert diff.min() < -0.5 and diff.max() > 0.5
    rows, cols = np.nonzero(diff < -0.5)        # darker in a: top-left cell
    rows_b, cols_b = np.nonzero(diff > 0.5)     # darker in b: bottom-right cell
    assert rows.mean() < rows_b.mean() and cols.mean() < cols_b.mean()


def test_confusion_matrix_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"square.*\(2, 3\)"):
        plots.plot_confusion_matrix(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="3 names but the matrix has 2"):
        plots.plot_confusion_matrix(np.eye(2), class_names=["a", "b", "c"])
    assert decode(plots.plot_confusion_matrix(np.eye(3) * 7, normalize=True)).shape == (500, 560, 4)


def test_contour_accepts_pointwise_functions_and_checks_trajectories():
    vectorised = plots.plot_contour(lambda x, y: x ** 2 + 3 * y ** 2, {"gd": [[1.0, 1.0], [0.5, 0.2]]},
                                    resolution=40, xlim=(-2, 2), ylim=(-2, 2))
    pointwise = plots.plot_contour(lambda x, y: float(x) ** 2 + 3 * float(y) ** 2, {"gd": [[1.0, 1.0], [0.5, 0.2]]},
                                   resolution=40, xlim=(-2, 2), ylim=(-2, 2))
    assert vectorised == pointwise
    with pytest.raises(ValueError, match=r"'bad'.*\(T, 2\).*\(3,\)"):
        plots.plot_contour(_rosenbrock, {"bad": [1.0, 2.0, 3.0]})
    with pytest.raises(ValueError, match="low < high"):
        plots.plot_contour(_rosenbrock, xlim=(1, -1))


def test_lines_checks_lengths():
    with pytest.raises(ValueError, match="'loss' has 3 values but x has 4"):
        plots.plot_lines([1, 2, 3, 4], {"loss": [1, 2, 3]})


def test_plotting_never_imports_pyplot():
    code = ("import sys, descend.io as dio\n"
            "dio.plot_loss({'loss': [1.0, 0.5]}); dio.plot_contour(lambda x, y: x * x + y * y, resolution=10)\n"
            "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
