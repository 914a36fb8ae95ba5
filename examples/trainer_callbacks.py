"""The Trainer with callbacks: early stopping, a model checkpoint, a learning-rate plateau schedule, a
CSV log and a callback of your own.

    python examples/trainer_callbacks.py [--epochs 20] [--out runs/trainer-callbacks]
"""

import argparse
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits

import descend
from descend import nn
from descend.optim import Adam
from descend.train import Callback, CSVLogger, EarlyStopping, ModelCheckpoint, ReduceLROnPlateau


class PrintBest(Callback):
    """A callback of your own: print when val_loss reaches a new low."""

    def __init__(self):
        super().__init__()
        self.best = float("inf")

    def on_epoch_end(self, epoch, logs=None):
        if logs["val_loss"] < self.best:
            self.best = logs["val_loss"]
            print(f"epoch {epoch + 1}: new best val_loss {self.best:.4f}")


def main(epochs: int = 20, out: str = "runs/trainer-callbacks"):
    d = load_digits()
    x, y = (d.data / 16).astype(np.float32), d.target.astype(np.int64)
    out = Path(out)
    trainer = descend.Trainer(
        lambda: nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Dropout(0.1), nn.Linear(128, 10)),
        nn.CrossEntropyLoss(), lambda p: Adam(p, lr=3e-3), metrics=["accuracy"], seed=0, batch_size=32,
        callbacks=[EarlyStopping(monitor="val_loss", mode="min", patience=3, restore_best_weights=True),
                   ModelCheckpoint(str(out / "best.safetensors"), monitor="val_loss", mode="min"),
                   ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=2),
                   CSVLogger(str(out / "history.csv")), PrintBest()])
    history = trainer.fit((x[:1400], y[:1400]), (x[1400:], y[1400:]), epochs=epochs)
    print(f"{len(history.val_loss)} epochs, final val_accuracy {history.val_accuracy[-1]:.4f}")
    return history


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--out", default="runs/trainer-callbacks")
    a = p.parse_args()
    main(a.epochs, a.out)
