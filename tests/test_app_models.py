"""Model presets and explicit layer lists: same function as the PyTorch twin with the same weights,
inferred input sizes, initialisation statistics and clear errors."""

import numpy as np
import pytest
import torch

import descend
from descend.app.config import ConfigError, check_config
from descend.app.models import build_model

RNG = np.random.default_rng(0)


def model_cfg(**kw):
    return check_config({"model": kw})["model"]


class TorchResidual(torch.nn.Module):
    def __init__(self, block):
        super().__init__()
        self.block = block

    def forward(self, x):
        return x + self.block(x)


def torch_twin(cfg, in_shape, out):
    t = torch.nn
    act = t.ReLU
    if cfg["preset"] == "mlp":
        h1, h2 = cfg["hidden"]
        return t.Sequential(t.Flatten(), t.Linear(int(np.prod(in_shape)), h1), t.BatchNorm1d(h1), act(),
                            t.Linear(h1, h2), t.BatchNorm1d(h2), act(), t.Dropout(cfg["dropout"]), t.Linear(h2, out))
    if cfg["preset"] == "cnn":
        c1, c2 = cfg["hidden"]
        return t.Sequential(t.Conv2d(in_shape[0], c1, 3, padding=1), t.BatchNorm2d(c1), act(), t.MaxPool2d(2),
                            t.Conv2d(c1, c2, 3, padding=1), t.BatchNorm2d(c2), act(), t.MaxPool2d(2),
                            t.Flatten(), t.Linear(c2 * (in_shape[1] // 4) * (in_shape[2] // 4), out))
    c1, c2 = cfg["hidden"]

    def block(c):
        return TorchResidual(t.Sequential(t.Conv2d(c, c, 3, padding=1), t.BatchNorm2d(c), act(),
                                          t.Conv2d(c, c, 3, padding=1), t.BatchNorm2d(c)))
    return t.Sequential(t.Conv2d(in_shape[0], c1, 3, padding=1), t.BatchNorm2d(c1), act(), block(c1), act(),
                        t.Conv2d(c1, c2, 3, stride=2, padding=1), t.BatchNorm2d(c2), act(), block(c2), act(),
                        t.Sequential(t.AdaptiveAvgPool2d(1), t.Flatten()), t.Linear(c2, out))


@pytest.mark.parametrize("preset, hidden, dropout", [("mlp", [24, 12], 0.3), ("cnn", [4, 6], 0.0),
                                                     ("resnet", [4, 8], 0.0)])
def test_preset_matches_its_torch_twin_with_the_same_weights(preset, hidden, dropout):
    in_shape, out = (1, 8, 8), 10
    cfg = model_cfg(preset=preset, hidden=hidden, dropout=dropout)
    ours = build_model(cfg, in_shape, out)
    twin = torch_twin(cfg, in_shape, out)
    # give the BatchNorms non-trivial running statistics, then copy every tensor across
    twin.train()
    with torch.no_grad():
        twin(torch.randn(16, *in_shape))
    state = {k: v.detach().numpy().copy() for k, v in twin.state_dict().items()}
    assert list(state) == list(ours.state_dict())
    ours.load_state_dict(state)
    ours.eval()
    twin.eval()
    x = RNG.standard_normal((5, *in_shape)).astype(np.float32)
    with torch.no_grad():
        expected = twin(torch.from_numpy(x)).numpy()
    got = ours(descend.tensor(x)).array
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    assert sum(p.array.size for p in ours.parameters()) == sum(p.numel() for p in twin.parameters())


def test_explicit_layers_infer_input_sizes_and_insert_flatten():
    cfg = model_cfg(layers=[{"type": "conv2d", "out_channels": 4, "kernel_size": 3},
                            {"type": "batchnorm"}, {"type": "relu"}, {"type": "maxpool2d", "kernel_size": 2},
                            {"type": "dropout", "p": 0.1}, {"type": "linear", "out_features": 7},
                            {"type": "batchnorm"}, {"type": "tanh"}, {"type": "linear", "out_features": 3}])
    model = build_model(cfg, (2, 10, 10), 3)
    linears = [m for m in model.modules() if isinstance(m, descend.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(4 * 4 * 4, 7), (7, 3)]
    norms = [type(m).__name__ for m in model.modules() if "BatchNorm" in type(m).__name__]
    assert norms == ["BatchNorm2d", "BatchNorm1d"]
    assert any(isinstance(m, descend.nn.Flatten) for m in model.modules())
    assert model(descend.tensor(np.zeros((2, 2, 10, 10), np.float32))).shape == (2, 3)


def test_mlp_preset_works_on_tabular_data():
    model = build_model(model_cfg(preset="mlp", hidden=[5]), (13,), 1)
    assert model(descend.tensor(np.ones((4, 13), np.float32))).shape == (4, 1)


def test_auto_init_is_he_for_relu_and_glorot_for_tanh():
    descend.manual_seed(0)
    relu = build_model(model_cfg(preset="mlp", hidden=[400], batchnorm=False), (1, 20, 20), 10)
    w = relu[1].weight.array
    assert abs(w.std() - np.sqrt(2 / 400)) < 0.05 * np.sqrt(2 / 400)
    assert np.all(relu[1].bias.array == 0)
    tanh = build_model(model_cfg(preset="mlp", hidden=[400], activation="tanh", batchnorm=False,
                                 init="xavier_uniform"), (1, 20, 20), 10)
    w = tanh[1].weight.array
    bound = (5 / 3) * np.sqrt(6 / (400 + 400))
    assert np.abs(w).max() <= bound + 1e-6 and abs(w.std() - bound / np.sqrt(3)) < 0.05 * bound


@pytest.mark.parametrize("kw, shape, out, message", [
    ({"preset": "cnn"}, (13,), 2, "needs image data shaped (C, H, W)"),
    ({"layers": [{"type": "conv2d", "out_channels": 2, "kernel_size": 3}]}, (5,), 2,
     "needs image input (C, H, W)"),
    ({"layers": [{"type": "linear", "out_features": 4}]}, (6,), 3, "ends with output shape (4,)"),
    ({"layers": [{"type": "residual", "layers": [{"type": "linear", "out_features": 3}]},
                 {"type": "linear", "out_features": 2}]}, (6,), 2, "x + F(x) needs them equal"),
    ({"layers": [{"type": "conv2d", "out_channels": 2, "kernel_size": 9}, {"type": "linear", "out_features": 2}]},
     (1, 8, 8), 2, "cannot take input of shape (1, 8, 8)"),
])
def test_impossible_models_fail_with_a_clear_config_error(kw, shape, out, message):
    with pytest.raises(ConfigError, match=None) as info:
        build_model(model_cfg(**kw), shape, out)
    assert message in str(info.value)
