"""HealthMonitor measurements (against closed forms) and detectors on constructed failures."""

import numpy as np
import pytest

import descend
from descend import nn, optim
from descend.data import load_digits
from descend.diagnose import HealthMonitor, activation_stats, diagnose
from descend.train import Trainer


@pytest.fixture(scope="module")
def digits():
    s = load_digits(seed=0)
    return s.x_train.reshape(len(s.x_train), -1), s.y_train, s.x_val.reshape(len(s.x_val), -1), s.y_val


def _fit(model, opt, data, epochs=1, every=1, batch_size=64, seed=0):
    x, y, xv, yv = data
    monitor = HealthMonitor(every=every)
    trainer = Trainer(model, nn.CrossEntropyLoss(), opt, metrics=["accuracy"], callbacks=[monitor], seed=seed,
                      batch_size=batch_size)
    history = trainer.fit((x, y), (xv, yv), epochs=epochs)
    return monitor, history


def test_monitor_matches_closed_forms_for_plain_sgd(digits):
    # plain SGD: Δw = −η g, so the update ratio must equal η‖g‖/‖w‖ exactly, layer by layer
    descend.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    lr = 0.05
    grads = {}

    class Spy(descend.train.Callback):
        def on_after_backward(self, trainer):
            if not grads:
                grads.update({n: p.grad.array.copy() for n, p in model.named_parameters()})

    monitor = HealthMonitor(every=3)
    x, y, _, _ = digits
    w0 = {n: v.copy() for n, v in model.state_dict().items()}
    Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=lr), callbacks=[Spy(), monitor],
            batch_size=64, shuffle=False).fit((x[:192], y[:192]), epochs=1)
    rows = {r["layer"]: r for r in monitor.records if r["step"] == 0}
    assert sorted({r["step"] for r in monitor.records}) == [0]          # 3 batches, sampled at step 0 only
    g0 = np.sqrt((grads["0.weight"] ** 2).sum() + (grads["0.bias"] ** 2).sum())
    w = np.sqrt((w0["0.weight"] ** 2).sum() + (w0["0.bias"] ** 2).sum())
    assert rows["0"]["grad_norm"] == pytest.approx(g0, rel=1e-5)
    assert rows["0"]["weight_norm"] == pytest.approx(w, rel=1e-5)
    assert rows["0"]["update_ratio"] == pytest.approx(lr * g0 / w, rel=1e-3)
    # the ReLU's activation statistics on that batch, recomputed by hand
    h = np.maximum(x[:64] @ w0["0.weight"].T + w0["0.bias"], 0)
    assert rows["1"]["act_mean"] == pytest.approx(h.mean(), rel=1e-4)
    assert rows["1"]["act_std"] == pytest.approx(h.std(), rel=1e-4)
    assert rows["1"]["dead"] == pytest.approx(1 - (h > 0).any(axis=0).mean())


def test_activation_stats_closed_forms():
    out = np.array([[0.0, 1.0, 0.0], [0.0, 2.0, 0.0]], np.float32)
    assert activation_stats("ReLU", out)["dead"] == pytest.approx(2 / 3)
    conv = np.zeros((2, 4, 3, 3), np.float32)
    conv[1, 0, 2, 2] = 1.0                                  # channel 0 fires once: 3 of 4 channels dead
    assert activation_stats("ReLU", conv)["dead"] == pytest.approx(0.75)
    sig = np.array([0.001, 0.5, 0.995, 0.3], np.float32)
    assert activation_stats("Sigmoid", sig)["saturated"] == pytest.approx(0.5)
    th = np.array([-0.999, 0.2, 0.5, 0.9999], np.float32)
    assert activation_stats("Tanh", th)["saturated"] == pytest.approx(0.5)


def test_deep_sigmoid_network_with_tiny_init_is_flagged_vanishing(digits):
    descend.manual_seed(0)
    layers, width = [], 64
    for _ in range(9):
        layers += [nn.Linear(width, 32), nn.Sigmoid()]
        width = 32
    layers.append(nn.Linear(32, 10))
    model = nn.Sequential(*layers)
    rng = np.random.default_rng(0)
    for m in model.modules():
        if isinstance(m, nn.Linear):
            m.weight.array[...] = rng.normal(0, 0.01, m.weight.shape)
    monitor, _ = _fit(model, optim.SGD(model.parameters(), lr=0.1), digits, every=4)
    findings = {f.name: f for f in diagnose(None, monitor.records)}
    assert "vanishing_gradients" in findings
    f = findings["vanishing_gradients"]
    assert f.severity == "error"
    assert "0" in f.layers                                   # the first Linear
    assert f.evidence["ratio[0]"] < 1e-5                     # ~0.25·0.01·√32 per layer, 9 layers deep
    assert any("ReLU" in r for r in f.remedies) and any("He" in r for r in f.remedies)


def test_relu_layer_with_large_negative_bias_is_flagged_dead(digits):
    descend.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    model[2].bias.array[...] = -50.0                          # the second ReLU never fires
    monitor, _ = _fit(model, optim.Adam(model.parameters(), lr=1e-3), digits, every=5)
    findings = {f.name: f for f in diagnose(None, monitor.records)}
    assert "dead_relus" in findings
    f = findings["dead_relus"]
    assert f.layers == ["3"] and f.severity == "error"
    assert f.evidence["fraction[3]"] == pytest.approx(1.0)


def test_tanh_layer_with_huge_weights_is_flagged_saturated(digits):
    descend.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, 10))
    model[0].weight.array[...] *= 100
    monitor, _ = _fit(model, optim.SGD(model.parameters(), lr=0.01), digits, every=5)
    findings = {f.name: f for f in diagnose(None, monitor.records)}
    assert "saturation" in findings and findings["saturation"].layers == ["1"]
    assert findings["saturation"].evidence["fraction[1]"] > 0.8


def test_well_set_mlp_on_digits_gets_a_clean_bill_of_health(digits):
    descend.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))
    monitor, history = _fit(model, optim.Adam(model.parameters(), lr=3e-3), digits, epochs=6, every=5)
    assert history.history["val_accuracy"][-1] > 0.93
    findings = diagnose(history, monitor.records)
    assert [f for f in findings if f.level > 0] == [], [str(f) for f in findings]


def test_monitor_samples_only_every_n_steps_and_removes_its_hooks(digits):
    descend.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 10))
    monitor, _ = _fit(model, optim.SGD(model.parameters(), lr=0.1), digits, epochs=1, every=7)
    steps = sorted({r["step"] for r in monitor.records})
    n_batches = -(-len(digits[0]) // 64)
    assert steps == list(range(0, n_batches, 7))
    assert not model[1]._forward_hooks and not model[0]._forward_hooks


def test_monitor_rejects_bad_every():
    with pytest.raises(ValueError, match="every must be a positive integer"):
        HealthMonitor(every=0)


def test_monitor_and_guard_leave_training_bit_for_bit_unchanged(digits):
    from descend.diagnose import DivergenceGuard

    def run(callbacks):
        descend.manual_seed(0)
        model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, 10))
        x, y, xv, yv = digits
        h = Trainer(model, nn.CrossEntropyLoss(), lambda p: optim.Adam(p, lr=3e-3), callbacks=callbacks,
                    seed=0).fit((x, y), (xv, yv), epochs=2)
        return h.history["val_loss"], model.state_dict()

    plain_loss, plain_w = run([])
    watched_loss, watched_w = run([HealthMonitor(every=1), DivergenceGuard()])
    assert plain_loss == watched_loss
    for k in plain_w:
        np.testing.assert_array_equal(plain_w[k], watched_w[k])


def test_monitored_run_fuses_on_unsampled_steps_and_records_what_an_always_hooked_run_records(digits):
    x, y, _, _ = digits
    n_batches = -(-len(x[:640]) // 64)

    def run(always_hooked):
        descend.manual_seed(0)
        model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 10))
        if always_hooked:  # how the monitor ran before: a hook on every layer on every step, so nothing fused
            for m in model:
                m.register_forward_hook(lambda *a: None)
        inner = []  # per training step: the node that feeds the last Linear
        model.register_forward_hook(lambda m, i, out: inner.append(out._node.inputs[0].name) if out._node else None)
        monitor = HealthMonitor(every=4)
        Trainer(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=1e-3), callbacks=[monitor],
                batch_size=64, shuffle=False).fit((x[:640], y[:640]), epochs=1)
        return monitor.records, inner, model.state_dict()

    records, inner, weights = run(always_hooked=False)
    hooked_records, hooked_inner, hooked_weights = run(always_hooked=True)
    assert len(inner) == n_batches == 10
    assert inner == ["relu" if step % 4 == 0 else "linear_relu" for step in range(n_batches)]
    assert hooked_inner == ["relu"] * n_batches
    assert sorted({r["step"] for r in records}) == [0, 4, 8] and len(records) == 3 * 5
    assert records == hooked_records                              # every field of every row, exactly
    for k in weights:
        np.testing.assert_array_equal(weights[k], hooked_weights[k])
