"""The results as a Markdown table and a JSON file."""

from __future__ import annotations

import json
import os

__all__ = ["markdown_table", "write_results"]

#: Ratio descend/PyTorch (samples/s) each workload aims at on a two-core CPU.
#: Issue targets: W1–W5 from the first speed issue; #18: ≥ 1.0 on every MLP, normalisation and sequence workload,
#: ≥ 0.8 on the CIFAR-sized CNN (and the ResNet, a CNN of the same kind); the batch-size sweep has none.
TARGETS = {"W1": 1.0, "W2": 1.5, "W3": 0.7, "W4": 1.0, "W5-mlp": 1.0, "W5-cnn": 1.0, "W6": 1.0, "W7": 1.0, "W8": 0.8,
           "W9": 1.0, "W10": 0.8}


def _fmt(value, spec):
    return "–" if value is None else format(value, spec)


def _ratio_cell(ratio: float, target) -> str:
    """'1.62 (1.5 ✓)': two decimals, three where two would round onto the target ('0.997 (1 ✗)')."""
    near = target is not None and abs(ratio - target) < 0.005
    text = f"{ratio:.3f}" if near else f"{ratio:.2f}"
    return text if target is None else f"{text} ({target:g} {'✓' if ratio >= target else '✗'})"


def markdown_table(results: dict) -> str:
    """One row per workload: samples/s, ratio (target), GFLOP/s, peak memory, correctness check."""
    m = results["machine"]
    lines = [
        f"Threads: {m['threads']} (NumPy BLAS = torch.set_num_threads); NumPy float32 1024×1024 matmul: "
        f"{m['matmul_gflops']:.1f} GFLOP/s; NumPy's BLAS: {m.get('blas', 'unknown')}; numpy {m['numpy']}, "
        f"torch {m['torch']}, Python {m['python']}.",
        "",
        "| workload | descend samples/s | PyTorch samples/s | ratio d/PT (target) | descend GFLOP/s (% peak) "
        "| PyTorch GFLOP/s | descend peak MiB | PyTorch peak MiB | losses agree (max abs Δ) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    peak = m["matmul_gflops"]
    for w in results["workloads"]:
        s, c, mem = w["speed"], w["check"], w.get("memory")
        target = TARGETS.get(w["name"])
        ratio = _ratio_cell(s["ratio"], target)
        dg = s.get("descend_gflops")
        dcell = "–" if dg is None else f"{dg:.1f} ({100 * dg / peak:.0f}%)"
        d_mem = t_mem = None
        if mem:
            d_mem, t_mem = mem["descend"]["peak_mib"], mem["torch"]["peak_mib"]
        lines.append(
            f"| {w['name']} | {s['descend_samples_per_s']:.0f} | {s['torch_samples_per_s']:.0f} | {ratio} | {dcell} "
            f"| {_fmt(s.get('torch_gflops'), '.1f')} | {_fmt(d_mem, '.1f')} | {_fmt(t_mem, '.1f')} "
            f"| {'yes' if c['passed'] else 'NO'} ({c['max_abs_diff']:.1e}) |")
    lines.append("")
    lines += [f"- {w['name']}: {w['description']}" for w in results["workloads"]]
    return "\n".join(lines) + "\n"


def write_results(results: dict, out_dir: str) -> tuple:
    """Write ``results.md`` and ``results.json`` into ``out_dir``; returns their paths."""
    os.makedirs(out_dir, exist_ok=True)
    md_path = os.path.join(out_dir, "results.md")
    json_path = os.path.join(out_dir, "results.json")
    with open(md_path, "w", encoding="utf-8") as f:
        f.write(markdown_table(results))
    with open(json_path, "w", encoding="utf-8") as f:
        json.dump(results, f, indent=2)
    return md_path, json_path
