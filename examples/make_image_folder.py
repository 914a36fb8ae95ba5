"""Write a tiny image folder for `descend train examples/image-folder.toml`: FOLDER/<class>/<i>.png,
three classes (square, cross, ring) of 16x16 grey images with random position, size and noise.

    python examples/make_image_folder.py [FOLDER] [--per-class N] [--seed S]
"""

import argparse
from pathlib import Path

import numpy as np
from PIL import Image


def _shape(kind: str, rng) -> np.ndarray:
    yy, xx = np.mgrid[0:16, 0:16]
    cy, cx = rng.integers(6, 10, size=2)
    r = rng.integers(3, 6)
    if kind == "square":
        mask = (np.abs(yy - cy) <= r) & (np.abs(xx - cx) <= r)
    elif kind == "cross":
        mask = ((np.abs(yy - cy) <= 1) & (np.abs(xx - cx) <= r)) | ((np.abs(xx - cx) <= 1) & (np.abs(yy - cy) <= r))
    else:
        d = np.hypot(yy - cy, xx - cx)
        mask = (d >= r - 1) & (d <= r + 0.5)
    img = 0.85 * mask + 0.15 * rng.random((16, 16))
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


def make_image_folder(folder, per_class: int = 30, seed: int = 0) -> Path:
    """``per_class`` PNGs for each of the classes square, cross and ring under ``folder``."""
    if per_class < 1:
        raise ValueError(f"per_class must be >= 1, got {per_class}")
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    for kind in ("square", "cross", "ring"):
        (folder / kind).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            Image.fromarray(_shape(kind, rng), mode="L").save(folder / kind / f"{i:03d}.png")
    return folder


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folder", nargs="?", default=str(Path(__file__).parent / "data" / "shapes"))
    p.add_argument("--per-class", type=int, default=30)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    print(make_image_folder(a.folder, a.per_class, a.seed))
