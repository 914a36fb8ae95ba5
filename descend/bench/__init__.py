"""Side-by-side benchmarks against PyTorch: ``python -m descend.bench [--workloads W1,W3] [--steps N]``.

Each workload (see :mod:`descend.bench.workloads`) is trained in descend and in PyTorch in the same
process, from the same initial weights (torch's, loaded with ``load_state_dict``), on the same synthetic
Fashion-MNIST-shaped batches and with the same thread count. The run prints and writes (Markdown and JSON)
samples/s for each, the ratio descend/PyTorch, achieved GFLOP/s for the MLPs against the machine's
measured NumPy matmul rate, peak memory per framework (fresh subprocess each) and a correctness check
(the two frameworks' losses agree step by step).

PyTorch is needed only here, as the yardstick; it is imported inside the functions that use it, so
``import descend`` never imports torch.
"""

from .report import markdown_table, write_results
from .runner import check_workload, run_benchmarks
from .workloads import WORKLOADS, Workload, matmul_flops

__all__ = ["run_benchmarks", "check_workload", "markdown_table", "write_results", "WORKLOADS", "Workload",
           "matmul_flops", "main"]


def main(argv=None) -> int:
    from .cli import main as _main
    return _main(argv)
