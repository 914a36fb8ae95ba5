"""Write examples/data/blobs.csv: three Gaussian blobs in four features, a header row and a `label` column.

    python examples/make_csv.py [PATH] [--rows N] [--seed S]
"""

import argparse
from pathlib import Path

import numpy as np


def make_blobs_csv(path, rows: int = 240, seed: int = 0) -> Path:
    """Class k (k = 0, 1, 2) has features x ~ N(mu_k, 0.6^2 I) with centres mu_k spread 2 apart."""
    if rows < 3:
        raise ValueError(f"rows must be >= 3 (one per class), got {rows}")
    rng = np.random.default_rng(seed)
    centres = np.array([[0, 0, 0, 0], [2, 2, 0, 0], [0, 2, 2, 2]], dtype=np.float64)
    labels = np.arange(rows) % 3
    x = centres[labels] + 0.6 * rng.standard_normal((rows, 4))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["f1,f2,f3,f4,label"] + [",".join(f"{v:.4f}" for v in row) + f",{k}" for row, k in zip(x, labels)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("path", nargs="?", default=str(Path(__file__).parent / "data" / "blobs.csv"))
    p.add_argument("--rows", type=int, default=240)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    print(make_blobs_csv(a.path, a.rows, a.seed))
