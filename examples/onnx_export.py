"""Train a small CNN on digits with the Trainer, export it to ONNX and run the file in onnxruntime.

    python examples/onnx_export.py [--epochs 3] [--output model.onnx]

Needs the onnx extra: pip install 'descend[onnx]' (onnx, onnxruntime).
"""

import argparse

import numpy as np
from sklearn.datasets import load_digits

import descend
import descend.onnx
from descend import nn
from descend.optim import Adam


def main(epochs: int = 3, output: str = "model.onnx") -> float:
    d = load_digits()
    x, y = (d.images / 16).astype(np.float32)[:, None], d.target.astype(np.int64)
    trainer = descend.Trainer(
        lambda: nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Flatten(), nn.Linear(8 * 4 * 4, 10)),
        nn.CrossEntropyLoss(), lambda p: Adam(p, lr=3e-3), metrics=["accuracy"], seed=0, batch_size=64)
    trainer.fit((x[:1400], y[:1400]), (x[1400:], y[1400:]), epochs=epochs)
    model = trainer.model
    model.eval()
    descend.onnx.export(model, np.zeros((1, 1, 8, 8), np.float32), output,
                        dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})

    import onnxruntime as ort
    session = ort.InferenceSession(output)
    onnx_out = session.run(None, {session.get_inputs()[0].name: x[1400:]})[0]
    with descend.no_grad():
        ours = model(descend.tensor(x[1400:])).numpy()
    diff = float(np.abs(onnx_out - ours).max())
    agree = float((onnx_out.argmax(1) == ours.argmax(1)).mean())
    print(f"wrote {output}; onnxruntime vs descend: max |diff| {diff:.2e}, same class for {agree:.1%}")
    return diff


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--output", default="model.onnx")
    a = p.parse_args()
    main(a.epochs, a.output)
