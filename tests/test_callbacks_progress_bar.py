"""ProgressBar: plain per-epoch lines when not on a terminal, a live line with rate and ETA on one."""

import io

import numpy as np

from descend.nn.linear import Linear
from descend.nn.loss import CrossEntropyLoss
from descend.optim import SGD
from descend.train import ProgressBar, Trainer


class FakeTTY(io.StringIO):
    def isatty(self):
        return True


def fit(stream, epochs=2):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((64, 3)).astype(np.float32), rng.integers(0, 2, 64)
    trainer = Trainer(lambda: Linear(3, 2), CrossEntropyLoss(), lambda p: SGD(p, lr=0.1), metrics=["accuracy"],
                      callbacks=[ProgressBar(stream=stream, refresh=0.0)], batch_size=16)
    return trainer.fit((x, y), (x, y), epochs=epochs)


def test_plain_stream_gets_one_line_per_epoch_with_the_logs():
    stream = io.StringIO()
    history = fit(stream)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2 and "\r" not in stream.getvalue()
    assert lines[0].startswith("epoch 1/2") and lines[1].startswith("epoch 2/2")
    assert f"val_loss {history.val_loss[1]:.4g}" in lines[1] and "accuracy" in lines[1]
    assert "samples/s" in lines[1]


def test_terminal_gets_a_live_line_with_batches_rate_and_eta():
    stream = FakeTTY()
    fit(stream, epochs=1)
    text = stream.getvalue()
    assert text.count("\r") >= 4  # one redraw per batch (refresh=0) plus the summary
    assert "4/4" in text and "ETA" in text and "samples/s" in text and "accuracy" in text
    assert text.endswith("\n")
