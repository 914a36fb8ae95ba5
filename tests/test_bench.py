"""The benchmark suite (descend.bench): workloads, the correctness check against PyTorch, the report."""

import json
import os
import platform
import subprocess
import sys

import numpy as np
import pytest

from descend.bench import measure, report, runner
from descend.bench import workloads as W


def test_resolve_selects_named_workloads_and_w5_means_both_parts():
    assert [w.name for w in W.resolve("W1,W3")] == ["W1", "W3"]
    assert [w.name for w in W.resolve("w5")] == ["W5-mlp", "W5-cnn"]
    assert len(W.resolve(None)) == 11 + 2 * len(W.SWEEP_BATCHES)
    assert [w.name for w in W.resolve("cifar,ln,resnet")] == ["W8", "W9", "W10"]
    sweep = W.resolve("sweep")
    assert [w.batch for w in sweep] == list(W.SWEEP_BATCHES) * 2
    assert {w.layers for w in sweep[:5]} == {W.WORKLOADS["W1"].layers}
    assert {w.layers for w in sweep[5:]} == {W.WORKLOADS["W3"].layers}
    with pytest.raises(ValueError, match="unknown workload 'W99'.*W1"):
        W.resolve("W99")


def test_matmul_flops_is_two_mnk_per_linear_times_three_for_training():
    w1 = W.WORKLOADS["W1"]
    assert W.matmul_flops(w1) == 3 * 2 * 128 * (784 * 512 + 512 * 256 + 256 * 10)
    assert W.matmul_flops(W.WORKLOADS["W5-mlp"]) == 2 * 1024 * (784 * 512 + 512 * 256 + 256 * 10)
    assert W.matmul_flops(W.WORKLOADS["W3"]) is None  # CNNs: no GFLOP/s column


def test_descend_and_torch_models_have_the_same_state_dict_keys_and_shapes():
    for wl in W.WORKLOADS.values():
        d_model, t_model = runner._pair(wl)
        d_state, t_state = d_model.state_dict(), t_model.state_dict()
        assert list(d_state) == list(t_state)
        for k in d_state:
            np.testing.assert_array_equal(np.asarray(d_state[k]), t_state[k].numpy())


@pytest.mark.parametrize("name,steps", [("W1", 6), ("W3", 3), ("W4", 6), ("W5-cnn", 1)])
def test_check_workload_finds_descend_and_torch_agree_step_by_step(name, steps):
    result = runner.check_workload(W.WORKLOADS[name], check_steps=steps)
    assert result["passed"], result
    assert result["max_abs_diff"] < 1e-3
    if W.WORKLOADS[name].train:  # a training check compares a real, moving loss
        losses = np.array(result["torch_losses"])
        assert len(losses) == steps and np.all(np.isfinite(losses)) and losses[0] > 2.0


def test_check_workload_fails_when_descend_trains_differently(monkeypatch):
    wl = W.WORKLOADS["W2"]
    original = W.make_descend_step
    # a "speed-up" that breaks results: descend silently uses ten times the learning rate
    monkeypatch.setattr(W, "make_descend_step", lambda w, m: original(W.Workload(**{**w.__dict__, "lr": w.lr * 10}), m))
    result = runner.check_workload(wl, check_steps=5)
    assert not result["passed"]
    assert result["max_abs_diff"] > 1e-3


def test_run_benchmarks_writes_a_markdown_table_and_json(tmp_path):
    lines = []
    results = runner.run_benchmarks("W2", steps=3, repeat=1, warmup=1, memory=False, check_steps=2,
                                    log=lines.append)
    (entry,) = results["workloads"]
    speed = entry["speed"]
    assert speed["descend_samples_per_s"] > 0 and speed["torch_samples_per_s"] > 0
    assert speed["ratio"] == pytest.approx(speed["descend_samples_per_s"] / speed["torch_samples_per_s"])
    # GFLOP/s = flops per step × steps / seconds
    assert speed["descend_gflops"] == pytest.approx(
        W.matmul_flops(W.WORKLOADS["W2"]) * 3 / speed["descend_s"][0] / 1e9)
    assert results["machine"]["matmul_gflops"] > 0.1 and results["machine"]["threads"] >= 1
    md_path, json_path = report.write_results(results, str(tmp_path))
    table = open(md_path).read()
    assert "| workload | descend samples/s | PyTorch samples/s | ratio d/PT (target)" in table
    assert "| W2 |" in table and "(1.5 " in table
    assert f"NumPy's BLAS: {results['machine']['blas']};" in table
    assert json.load(open(json_path))["workloads"][0]["name"] == "W2"
    assert any("W2: descend" in line for line in lines)


def test_run_benchmarks_rejects_bad_options():
    with pytest.raises(ValueError, match="repeat must be >= 1, got 0"):
        runner.run_benchmarks("W2", repeat=0, memory=False)
    with pytest.raises(ValueError, match="steps must be >= 1, got -1"):
        runner.run_benchmarks("W2", steps=-1, memory=False)


def test_peak_memory_runs_in_a_fresh_subprocess_and_counts_the_model():
    result = measure.peak_memory("W2", "descend", steps=2, threads=1)
    assert result["framework"] == "descend" and result["workload"] == "W2"
    # W2's parameters alone are 101,770 float32 = 0.39 MiB; with the gradients and Adam's two moments, 1.55 MiB
    assert 1.4 < result["peak_mib"] < 100.0


def test_matmul_rate_is_a_plausible_gflops_figure():
    rate = measure.matmul_rate(n=256, repeat=2)
    assert 0.1 < rate < 10_000


_KERNELS_PROBE = "import descend.bench.measure as m; print(m.blas_kernels())"


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="OpenBLAS's Haswell kernels are x86-64's")
@pytest.mark.parametrize("core", [None, "Haswell"])
def test_blas_kernels_names_the_kernels_openblas_runs_and_who_chose_them(core):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("OPENBLAS_")}
    if core:
        environment["OPENBLAS_CORETYPE"] = core
    out = subprocess.run([sys.executable, "-c", _KERNELS_PROBE], env=environment, capture_output=True, text=True,
                         timeout=120, check=True).stdout.strip()
    assert out.startswith("openblas 0."), out
    if core:  # OpenBLAS runs the kernels the variable names, and the report says the environment chose them
        assert out.endswith(f", {core} kernels (OPENBLAS_CORETYPE={core} in the environment)"), out
    else:
        assert "kernels" in out and "OPENBLAS_CORETYPE" not in out, out


@pytest.mark.parametrize("ratio, target, cell", [
    (1.6234, 1.5, "1.62 (1.5 ✓)"), (1.4961, 1.5, "1.496 (1.5 ✗)"), (0.9967, 1.0, "0.997 (1 ✗)"),
    (1.0031, 1.0, "1.003 (1 ✓)"), (0.84, 1.0, "0.84 (1 ✗)"), (2.5, None, "2.50"),
])
def test_ratio_cell_shows_a_third_decimal_where_two_would_round_onto_the_target(ratio, target, cell):
    assert report._ratio_cell(ratio, target) == cell


@pytest.mark.parametrize("name", ["W6", "W7"])
def test_sequence_workloads_lstm_and_transformer_agree_with_torch(name):
    result = runner.check_workload(W.WORKLOADS[name], check_steps=3)
    assert result["passed"] and result["max_abs_diff"] < 1e-5
    assert result["descend_losses"][0] != result["descend_losses"][-1]      # a real, moving loss
    assert W.matmul_flops(W.WORKLOADS[name]) is None
    assert [w.name for w in W.resolve("lstm,transformer")] == ["W6", "W7"]


@pytest.mark.parametrize("name", ["W8", "W9", "W10"])
def test_cnn_norm_and_resnet_workloads_agree_with_torch(name):
    wl = W.WORKLOADS[name]
    result = runner.check_workload(wl, check_steps=wl.check_steps or 3)
    assert result["passed"], result
    assert result["descend_losses"][0] != result["descend_losses"][-1]      # a real, moving loss
