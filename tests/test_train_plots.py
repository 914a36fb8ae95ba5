"""plot_history writes loss, metric and lr curves as PNG files."""

import numpy as np

from descend.nn.linear import Linear
from descend.nn.loss import CrossEntropyLoss
from descend.optim import SGD
from descend.train import Trainer, plot_history


def test_plot_history_writes_three_pngs(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((30, 3)).astype(np.float32), rng.integers(0, 2, 30)
    trainer = Trainer(lambda: Linear(3, 2), CrossEntropyLoss(), lambda p: SGD(p, lr=0.1),
                      metrics=["accuracy", "confusion_matrix"])
    written = plot_history(trainer.fit((x, y), (x, y), epochs=3), tmp_path)
    assert set(written) == {"loss", "metrics", "lr"}
    for path in written.values():
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 1000
