"""The compatibility corpus: published PyTorch programs (tests/compat/programs, sources and licences in
tests/compat/README.md) whose only change is `import torch` -> `import descend as torch` on their import
lines. Each runs in a subprocess with the stand-ins of tests/compat/stubs first on the path (an offline
torchvision; no `torch` alias: the program imports descend), must finish and learn (its printed loss falls,
or its accuracy beats chance), and several run under PyTorch too, in the same test, with the final metric
compared within a stated tolerance. Short settings come through the program's arguments or the stand-in
data (a small data set), never by editing the program."""

import re
import sys
from pathlib import Path

import numpy as np
import pytest

import descend
import descend.optim

sys.path.insert(0, str(Path(__file__).resolve().parent / "compat"))
from run_program import run  # noqa: E402

FLOAT = r"([-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)"
MICROGRAD_RUNNER = ("import runpy, sys; ns = runpy.run_path(sys.argv[1]); "
                    "tests = [f for n, f in ns.items() if n.startswith('test_')]; [t() for t in tests]; "
                    "print('passed', len(tests))")


def series(pattern, out):
    return [float(v) for v in re.findall(pattern, out, re.M)]


def run_ok(name, tmp_path, backend="descend", **kw):
    workdir = tmp_path / backend
    workdir.mkdir(exist_ok=True)
    code, out = run(name, workdir=workdir, backend=backend, **kw)
    assert code == 0, f"{name} under {backend} failed:\n{out[-3000:]}"
    return out


def falls(values):
    assert len(values) >= 2 and values[-1] < values[0], values
    return values[-1]


# ---------------------------------------------------------------------------------------------------
# the "learn the basics" tutorials (pytorch/tutorials beginner_source/basics)

TEST_LOSS = r"Avg loss: " + FLOAT


@pytest.mark.parametrize("name", ["quickstart_tutorial", "optimization_tutorial"])
def test_basics_training_tutorial_test_loss_falls_and_matches_torch(name, tmp_path):
    """SGD lr=1e-3 on the stand-in FashionMNIST (512 samples): the per-epoch test loss falls under both;
    the final one agrees with PyTorch's within 0.05 (different initial weights: descend's generator is
    not PyTorch's)."""
    out = run_ok(name, tmp_path, timeout=300)
    ours = falls(series(TEST_LOSS, out))
    if name == "quickstart_tutorial":  # it saves its model, loads it back and predicts one sample
        assert (tmp_path / "descend" / "model.pth").exists()
        assert re.search(r'Predicted: ".+", Actual: ".+"', out)
    theirs = falls(series(TEST_LOSS, run_ok(name, tmp_path, backend="torch", timeout=300)))
    assert abs(ours - theirs) < 0.05, (ours, theirs)


def test_buildmodel_tutorial_prints_layers_with_torch_shapes(tmp_path):
    out = run_ok("buildmodel_tutorial", tmp_path)
    assert "Layer: linear_relu_stack.0.weight | Size: (512, 784)" in out
    assert "Layer: linear_relu_stack.4.bias | Size: (10,)" in out
    assert re.search(r"Predicted class: tensor\(\[\d\]", out)  # descend adds ", dtype=int64" (see docs)


def test_autograd_tutorial_gradients_accumulate_as_in_torch(tmp_path):
    """out = ((inp + 1)^2)ᵀ with inp = eye(4, 5): d/dinp = 2(inp + 1), so the first call gives 4 on the
    diagonal and 2 elsewhere, the second call doubles it, zeroing restores the first."""
    out = run_ok("autogradqs_tutorial", tmp_path)
    first, second, after = (re.findall(FLOAT, block) for block in re.split(
        r"First call|Second call|Call after zeroing gradients", out)[1:4])
    assert [float(v) for v in first[:5]] == [4, 2, 2, 2, 2]
    assert [float(v) for v in second[:5]] == [8, 4, 4, 4, 4]
    assert [float(v) for v in after[:5]] == [4, 2, 2, 2, 2]
    assert out.count("False") >= 2  # no_grad and detach stop tracking


def test_tensors_tutorial_shares_memory_with_numpy_both_ways(tmp_path):
    """`t.add_(1)` shows in `t.numpy()`, `np.add(n, 1, out=n)` in `from_numpy(n)`; the 4x4 sum is 12.0 (a
    float); `torch.mul(..., out=z3)` and `torch.matmul(..., out=y3)` run."""
    out = run_ok("tensorqs_tutorial", tmp_path)
    assert "12.0 <class 'float'>" in out
    assert out.count("n: [2. 2. 2. 2. 2.]") == 2 and "t: tensor([2., 2., 2., 2., 2.]" in out


def test_blitz_neural_networks_tutorial_walks_the_graph_and_steps(tmp_path):
    """LeNet on a random 32x32 input: 10 parameter tensors, conv1's weight (6, 1, 5, 5), grad_fn chain
    MSELoss <- Linear <- ReLU (PyTorch: MseLoss <- Addmm <- AccumulateGrad, its bias leaf), conv1.bias.grad
    None after zero_grad and filled after backward; PyTorch's run is checked for the same facts."""
    for backend, size, names in (("descend", "(6, 1, 5, 5)", ("MseLoss", "Linear", "Relu")),
                                 ("torch", "torch.Size([6, 1, 5, 5])", ("MseLoss", "Addmm"))):
        out = run_ok("neural_networks_tutorial", tmp_path, backend=backend)
        assert re.search(r"^10$", out, re.M) and size in out, backend
        assert all(re.search(rf"<{n}Backward\d? object", out) for n in names), (backend, out[-1500:])
        before, after = out.split("conv1.bias.grad before backward")[1].split("conv1.bias.grad after backward")
        assert before.strip() == "None" and any(float(v) != 0 for v in re.findall(FLOAT, after)[:6])


# ---------------------------------------------------------------------------------------------------
# "Learning PyTorch with examples" (pytorch/tutorials beginner_source/examples_*)

POLY_LOSS = r"^\d+ " + FLOAT + r"$"


@pytest.mark.parametrize("name", ["polynomial_nn", "polynomial_optim", "polynomial_module"])
def test_polynomial_fit_loss_falls_and_ends_near_torch(name, tmp_path):
    """2000 SGD steps (lr 1e-6, summed squared error) fitting sin on [-π, π]: the loss printed every 100
    steps falls; from random initial weights both libraries end within a factor 2 of each other (a
    cubic fit's least squared error there is about 8.8; the tutorials stop before reaching it)."""
    ours = falls(series(POLY_LOSS, run_ok(name, tmp_path)))
    theirs = falls(series(POLY_LOSS, run_ok(name, tmp_path, backend="torch")))
    assert 0.5 < ours / theirs < 2, (ours, theirs)


def test_custom_autograd_function_matches_torch_step_for_step(tmp_path):
    """The Legendre-polynomial Function starts from fixed weights, so descend and PyTorch take the same
    2000 steps: every printed loss agrees within 1e-3 relative (float32 sums in a different order)."""
    ours = series(POLY_LOSS, run_ok("polynomial_custom_function", tmp_path))
    theirs = series(POLY_LOSS, run_ok("polynomial_custom_function", tmp_path, backend="torch"))
    falls(ours)
    assert ours == pytest.approx(theirs, rel=1e-3)


@pytest.mark.slow
def test_dynamic_net_loss_falls(tmp_path):
    """30000 momentum-SGD steps with a random depth per step (about 25 s here: slow)."""
    falls(series(POLY_LOSS, run_ok("dynamic_net", tmp_path, timeout=300)))


@pytest.mark.xfail(strict=True, reason="the stored tutorial assigns a float to .grad (`a.grad = 0.`), which "
                                       "PyTorch 2.13 and descend both reject with the same TypeError "
                                       "(docs/from-pytorch.md)")
def test_polynomial_autograd_runs(tmp_path):
    falls(series(POLY_LOSS, run_ok("polynomial_autograd", tmp_path)))


def test_polynomial_autograd_stops_at_the_float_grad_with_torchs_type_error(tmp_path):
    """Both frameworks stop the tutorial at ``a.grad = 0.`` with PyTorch's message."""
    for backend in ("descend", "torch"):
        workdir = tmp_path / backend
        workdir.mkdir()
        code, out = run("polynomial_autograd", workdir=workdir, backend=backend)
        assert code != 0 and "TypeError: assigned grad expected to be a Tensor or None but got grad of type " \
            "float" in out, (backend, out[-2000:])


# ---------------------------------------------------------------------------------------------------
# pytorch/examples

def test_mnist_example_beats_chance_and_matches_torch_accuracy(tmp_path):
    """The CNN (conv, dropout2d, max-pool, log-softmax, NLL, SGD momentum) for 2 epochs on the stand-in
    MNIST (lr 0.1 through its --lr flag): test loss falls, accuracy far above chance (10 %; both reach
    about 100 % on the stand-in data), within 15 points of PyTorch's."""
    argv = ["--epochs", "2", "--lr", "0.1", "--log-interval", "4", "--test-batch-size", "256", "--batch-size", "32"]
    accuracy = r"Accuracy: (\d+)/\d+"
    results = {}
    for backend in ("descend", "torch"):
        out = run_ok("mnist_main", tmp_path, backend=backend, argv=argv, timeout=300)
        falls(series(r"Average loss: " + FLOAT, out))
        results[backend] = series(accuracy, out)[-1] / 256
    assert results["descend"] > 0.5 and abs(results["descend"] - results["torch"]) < 0.15, results


@pytest.mark.xfail(strict=True, reason="the stored example updates a leaf that requires grad in place "
                                       "(`param.add_(...)` outside no_grad): PyTorch 2.13 raises on it too")
def test_regression_example_reaches_its_stop_criterion(tmp_path):
    out = run_ok("regression_main", tmp_path)
    assert float(re.search(r"Loss: " + FLOAT, out).group(1)) < 1e-3


@pytest.mark.xfail(not hasattr(descend.optim, "LBFGS"), strict=True,
                   reason="needs torch.optim.LBFGS, which this descend lacks (main gains it with the optimiser "
                          "branch; there this test runs and must pass)")
def test_time_sequence_prediction_lstm_cells_fit_sine_waves(tmp_path):
    """Two LSTMCells in float64 trained with LBFGS on sine waves; the data file generate_sine_wave.py
    would write is generated here (6 waves of 60 steps) and saved as traindata.pt in the run folder."""
    (tmp_path / "descend").mkdir()
    x = np.arange(60) + np.random.default_rng(0).integers(-80, 80, 6).reshape(6, 1)
    descend.save(np.sin(x / 20.0), tmp_path / "descend" / "traindata.pt")
    out = run_ok("time_sequence_prediction_train", tmp_path, argv=["--steps", "2", "--device", "cpu"])
    falls(series(r"^test loss: " + FLOAT, out))


# ---------------------------------------------------------------------------------------------------
# written for the corpus: the tensor functions of a bigram language model

def test_bigram_program_counts_exactly_as_torch_and_its_network_reaches_torchs_loss(tmp_path):
    """unique / where / scatter_add_ / prod give the count model's NLL and a word's probability as PyTorch
    does (deterministic: 1e-5); the one-hot (scatter_) einsum network trained 200 full-batch steps from
    random weights (descend's generator, not PyTorch's) ends within 0.01 of PyTorch's loss, near the count
    model's; multinomial samples use only the vocabulary's letters."""
    results = {}
    for backend in ("descend", "torch"):
        out = run_ok("bigram_tensor_ops", tmp_path, backend=backend)
        losses = series(r"^step \d+ loss " + FLOAT, out)
        assert len(losses) == 9 and all(b < a for a, b in zip(losses, losses[1:])), losses
        results[backend] = dict(
            nll=series(r"count model: nll " + FLOAT, out)[0], word=series(r"p\(first word\) = " + FLOAT, out)[0],
            boundaries=series(r"word boundaries: " + FLOAT, out)[0], final=series(r"final loss " + FLOAT, out)[0],
            samples=re.search(r"^samples: (.*)$", out, re.M).group(1))
    ours, theirs = results["descend"], results["torch"]
    assert ours["boundaries"] == theirs["boundaries"] == 101
    assert ours["nll"] == pytest.approx(theirs["nll"], abs=1e-5)
    assert ours["word"] == pytest.approx(theirs["word"], rel=1e-4)
    assert abs(ours["final"] - theirs["final"]) < 0.01 and ours["final"] < ours["nll"] + 0.05, (ours, theirs)
    assert set(ours["samples"]) <= set("abcdefghijklmnopqrstuvwxyz ") and len(ours["samples"].split()) >= 1


# ---------------------------------------------------------------------------------------------------
# micrograd's torch-checked tests

def test_micrograd_engine_tests_pass_against_descend(tmp_path):
    """micrograd's own test file compares its scalar engine with torch; here the 'torch' is descend."""
    out = run_ok("micrograd_test_engine", tmp_path, runner=MICROGRAD_RUNNER)
    assert "passed 2" in out
