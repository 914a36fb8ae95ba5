"""PyTorch's "learn the basics" tutorial code, with `import descend as torch`, runs unchanged (synthetic data
in place of FashionMNIST) and trains: the loss falls and the printed outcomes are torch's."""

import numpy as np

import descend as torch
from descend import nn


def test_tensors_tutorial_runs_unchanged():
    data = [[1, 2], [3, 4]]
    x_data = torch.tensor(data)
    x_np = torch.from_numpy(np.array(data))
    x_ones = torch.ones_like(x_data)
    x_rand = torch.rand_like(x_data, dtype=torch.float)
    assert x_np.tolist() == data and x_ones.tolist() == [[1, 1], [1, 1]] and x_rand.dtype == torch.float32
    tensor = torch.rand(3, 4)
    assert f"{tensor.shape} {tensor.dtype} {tensor.device}" == "(3, 4) float32 cpu"
    if torch.accelerator.is_available():
        tensor = tensor.to(torch.accelerator.current_accelerator())
    tensor = torch.ones(4, 4)
    tensor[:, 1] = 0
    t1 = torch.cat([tensor, tensor, tensor], dim=1)
    y1 = tensor @ tensor.T
    y3 = torch.rand_like(y1)
    torch.matmul(tensor, tensor.T, out=y3)
    assert t1.shape == (4, 12) and torch.equal(y1, y3)
    agg = tensor.sum()
    assert agg.item() == 12.0 and isinstance(agg.item(), float)
    tensor.add_(5)
    t = torch.ones(5)
    n = t.numpy()
    t.add_(1)
    assert n.tolist() == [2.0] * 5  # the NumPy view sees the in-place update


class NeuralNetwork(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(nn.Linear(8 * 8, 32), nn.ReLU(), nn.Linear(32, 4))

    def forward(self, x):
        return self.linear_relu_stack(self.flatten(x))


def test_quickstart_training_loop_runs_unchanged_and_learns():
    torch.manual_seed(0)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = NeuralNetwork().to(device)
    X = torch.randn(256, 1, 8, 8)
    y = X.flatten(1)[:, :4].argmax(1)  # a learnable rule
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.2)
    losses = []
    model.train()
    for epoch in range(15):
        perm = torch.randperm(256)
        for i in range(0, 256, 64):
            idx = perm[i:i + 64]
            Xb, yb = X[idx].to(device), y[idx].to(device)
            loss = loss_fn(model(Xb), yb)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
        losses.append(float(f"{loss.item():>7f}"))
    model.eval()
    with torch.no_grad():
        pred = model(X)
        correct = (pred.argmax(1) == y).type(torch.float).sum().item()
        _, predicted = torch.max(pred, 1)
    assert losses[-1] < 0.5 * losses[0]
    assert correct / 256 > 0.8 and (predicted == y).sum().item() == correct
    assert pred.grad_fn is None and model(X).grad_fn is not None
