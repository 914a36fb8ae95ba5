"""A training loop written by hand, as in PyTorch: model, loss, optimiser, DataLoader, zero_grad/backward/step.

    python examples/custom_loop.py [--epochs 5] [--samples 1797]

An MLP on scikit-learn's digits; prints the training loss per epoch and the held-out accuracy.
"""

import argparse

import numpy as np
from sklearn.datasets import load_digits

import descend
from descend import nn
from descend.utils.data import DataLoader, TensorDataset


def main(epochs: int = 5, samples: int = 1797) -> float:
    descend.manual_seed(0)
    d = load_digits()
    x, y = (d.data[:samples] / 16).astype(np.float32), d.target[:samples].astype(np.int64)
    cut = int(0.8 * len(x))
    train = TensorDataset(descend.tensor(x[:cut]), descend.tensor(y[:cut]))
    loader = DataLoader(train, batch_size=32, shuffle=True)

    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    loss_fn = nn.CrossEntropyLoss()
    opt = descend.optim.Adam(model.parameters(), lr=3e-3)
    for epoch in range(epochs):
        model.train()
        total = 0.0
        for xb, yb in loader:
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            total += loss.item() * len(xb)
        print(f"epoch {epoch + 1}: loss {total / cut:.4f}")

    model.eval()
    with descend.no_grad():
        pred = model(descend.tensor(x[cut:])).argmax(dim=1).numpy()
    accuracy = float((pred == y[cut:]).mean())
    print(f"held-out accuracy {accuracy:.4f}")
    return accuracy


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--samples", type=int, default=1797)
    a = p.parse_args()
    main(a.epochs, a.samples)
