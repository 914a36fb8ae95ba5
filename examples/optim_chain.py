"""Composing an optimiser from rules with descend.optim.chain, and checking it against the named one.

    python examples/optim_chain.py [--steps 50]

chain(params, *rules) passes each gradient through the rules in order (u <- g, each rule rewrites u) and
adds the result: here Adam with coupled L2 (= optim.Adam(..., weight_decay=1e-2)), and SGD momentum with
decoupled weight decay, which no named optimiser is.
"""

import argparse

import numpy as np

import descend
from descend import nn
from descend.optim import Adam, chain, rules


def fit(make_opt, steps: int):
    descend.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 1))
    opt = make_opt(model.parameters())
    rng = np.random.default_rng(0)
    x = descend.tensor(rng.standard_normal((128, 8)).astype(np.float32))
    y = descend.tensor((rng.standard_normal((128, 1)) * 0.1).astype(np.float32)) + x[:, :1] * 2
    for _ in range(steps):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
    return model, float(loss.item())


def main(steps: int = 50):
    composed, loss_c = fit(lambda p: chain(p, rules.add_decayed_weights(1e-2), rules.scale_by_adam(),
                                           rules.scale_by_learning_rate(1e-2)), steps)
    named, loss_n = fit(lambda p: Adam(p, lr=1e-2, weight_decay=1e-2), steps)
    diff = max(float(np.abs(a.detach().numpy() - b.detach().numpy()).max())
               for a, b in zip(composed.parameters(), named.parameters()))
    print(f"chain(add_decayed_weights, scale_by_adam, lr): loss {loss_c:.5f}; Adam: loss {loss_n:.5f}; "
          f"largest weight difference {diff:.2e}")
    _, loss_m = fit(lambda p: chain(p, rules.trace(momentum=0.9), rules.add_decayed_weights(1e-4),
                                    rules.scale_by_learning_rate(0.05)), steps)
    print(f"momentum + decoupled weight decay: loss {loss_m:.5f}")
    return loss_c, loss_n, diff, loss_m


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=50)
    main(p.parse_args().steps)
