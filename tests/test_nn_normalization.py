"""BatchNorm and LayerNorm (functional and modules) against PyTorch in training and evaluation mode: outputs,
input/weight/bias gradients, running statistics over several steps (momentum and cumulative average),
state-dict keys, gradcheck in float64, and the error messages."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import descend
import descend.nn as nn
import descend.nn.functional as F


def _f32(a):
    return np.asarray(a, dtype=np.float32)


def _pair_batchnorm(cls, tcls, rng, C, **kw):
    ours, theirs = cls(C, **kw), tcls(C, **kw)
    if ours.affine:
        with torch.no_grad():
            theirs.weight.copy_(torch.tensor(_f32(rng.uniform(0.5, 2, C))))
            theirs.bias.copy_(torch.tensor(_f32(rng.standard_normal(C))))
    ours.load_state_dict(theirs.state_dict())
    return ours, theirs


def _step(ours, theirs, x, rng, atol=2e-5):
    """One forward/backward through both modules; compare outputs and every gradient."""
    xd = descend.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    yd, yt = ours(xd), theirs(xt)
    np.testing.assert_allclose(yd.numpy(), yt.detach().numpy(), atol=atol, rtol=1e-4, err_msg="output")
    g = _f32(rng.standard_normal(x.shape))
    yd.backward(g)
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(xd.grad.numpy(), xt.grad.numpy(), atol=atol, rtol=1e-4, err_msg="input gradient")
    if getattr(ours, "weight", None) is not None:
        np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), atol=10 * atol, rtol=1e-4,
                                   err_msg="weight gradient")
    if getattr(ours, "bias", None) is not None:
        np.testing.assert_allclose(ours.bias.grad.numpy(), theirs.bias.grad.numpy(), atol=10 * atol, rtol=1e-4,
                                   err_msg="bias gradient")
    ours.zero_grad()
    theirs.zero_grad()


def _compare_state(ours, theirs):
    theirs_state = theirs.state_dict()
    assert list(ours.state_dict()) == list(theirs_state)
    for key, value in ours.state_dict().items():
        np.testing.assert_allclose(value, theirs_state[key].numpy(), rtol=1e-5, atol=1e-6, err_msg=key)


BATCHNORM_CASES = [
    (nn.BatchNorm1d, torch.nn.BatchNorm1d, (16, 5)),
    (nn.BatchNorm1d, torch.nn.BatchNorm1d, (6, 5, 7)),
    (nn.BatchNorm2d, torch.nn.BatchNorm2d, (4, 3, 5, 6)),
    (nn.BatchNorm3d, torch.nn.BatchNorm3d, (2, 3, 2, 3, 4)),
]


@pytest.mark.parametrize("momentum", [0.1, 0.5, None], ids=["m0.1", "m0.5", "cumulative"])
@pytest.mark.parametrize("cls, tcls, shape", BATCHNORM_CASES, ids=["1d-NC", "1d-NCL", "2d", "3d"])
def test_batchnorm_matches_torch_in_training_then_eval(rng, cls, tcls, shape, momentum):
    ours, theirs = _pair_batchnorm(cls, tcls, rng, shape[1], momentum=momentum)
    for _ in range(4):  # batch statistics; running statistics updated with the unbiased variance
        _step(ours, theirs, _f32(rng.standard_normal(shape) * 3 + 1.5), rng)
    _compare_state(ours, theirs)
    assert int(ours.num_batches_tracked.item()) == 4
    ours.eval()
    theirs.eval()
    _step(ours, theirs, _f32(rng.standard_normal(shape) * 3 + 1.5), rng)  # running statistics
    _compare_state(ours, theirs)  # unchanged by evaluation


@pytest.mark.parametrize("kw", [dict(affine=False), dict(track_running_stats=False),
                                dict(affine=False, track_running_stats=False, eps=1e-3)],
                         ids=["no-affine", "no-running-stats", "neither"])
def test_batchnorm_options_match_torch(rng, kw):
    ours, theirs = _pair_batchnorm(nn.BatchNorm2d, torch.nn.BatchNorm2d, rng, 3, **kw)
    for mode in (True, True, False):
        ours.train(mode)
        theirs.train(mode)
        _step(ours, theirs, _f32(rng.standard_normal((5, 3, 4, 4)) + 2), rng)
    _compare_state(ours, theirs)


def test_batchnorm_state_dict_loads_into_torch_and_back(rng):
    ours = nn.BatchNorm1d(4)
    for _ in range(3):
        ours(descend.tensor(_f32(rng.standard_normal((8, 4)))))
    theirs = torch.nn.BatchNorm1d(4)
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    assert theirs.num_batches_tracked.item() == 3
    x = _f32(rng.standard_normal((8, 4)))
    ours.eval()
    theirs.eval()
    np.testing.assert_allclose(ours(descend.tensor(x)).numpy(), theirs(torch.tensor(x)).detach().numpy(), atol=1e-6)


def test_running_statistics_converge_to_the_population_mean_and_variance(rng):
    bn = nn.BatchNorm1d(2, momentum=None)  # cumulative average
    for _ in range(200):
        bn(descend.tensor(_f32(rng.normal([3.0, -1.0], [2.0, 0.5], size=(32, 2)))))
    np.testing.assert_allclose(bn.running_mean.numpy(), [3.0, -1.0], atol=0.06)
    np.testing.assert_allclose(bn.running_var.numpy(), [4.0, 0.25], rtol=0.05)
    bn.eval()
    x = _f32([[3.0, -1.0], [5.0, -0.5]])
    np.testing.assert_allclose(bn(descend.tensor(x)).numpy(), [[0, 0], [1, 1]], atol=0.05)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5)])
def test_functional_batch_norm_matches_torch(torch_check, rng, shape, training):
    C = shape[1]
    rm, rv = _f32(rng.standard_normal(C)), _f32(rng.uniform(0.5, 2, C))
    rm_t, rv_t = torch.tensor(rm), torch.tensor(rv)
    torch_check(lambda x, w, b: F.batch_norm(x, rm, rv, w, b, training=training, momentum=0.2, eps=1e-4),
                lambda x, w, b: TF.batch_norm(x, rm_t, rv_t, w, b, training=training, momentum=0.2, eps=1e-4),
                _f32(rng.standard_normal(shape) * 2), _f32(rng.uniform(0.5, 2, C)), _f32(rng.standard_normal(C)))
    np.testing.assert_allclose(rm, rm_t.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(rv, rv_t.numpy(), rtol=1e-5, atol=1e-6)


def test_batch_norm_passes_gradcheck(grad_check, rng):
    C = 3
    rm, rv = rng.standard_normal(C), rng.uniform(0.5, 2, C)
    for training in (True, False):
        grad_check(lambda x, w, b: F.batch_norm(x, rm, rv, w, b, training=training),
                   rng.standard_normal((4, C, 2)), rng.uniform(0.5, 2, C), rng.standard_normal(C))
    grad_check(lambda x: F.batch_norm(x, None, None, training=True), rng.standard_normal((5, 2)))


def test_batchnorm_module_in_float64_passes_gradcheck(rng):
    bn = nn.BatchNorm2d(2).double()
    with descend.no_grad():
        bn.weight.copy_(rng.uniform(0.5, 2, 2))
        bn.bias.copy_(rng.standard_normal(2))
    x = descend.tensor(rng.standard_normal((3, 2, 2, 2)), dtype="float64", requires_grad=True)
    assert descend.gradcheck(lambda a, w, b: bn(a), [x, bn.weight, bn.bias])
    bn.eval()
    assert descend.gradcheck(lambda a, w, b: bn(a), [x, bn.weight, bn.bias])


# ------------------------------------------------------------------------------------------------ LayerNorm


@pytest.mark.parametrize("kw", [dict(), dict(elementwise_affine=False), dict(bias=False), dict(eps=1e-3)],
                         ids=["affine", "no-affine", "no-bias", "eps"])
@pytest.mark.parametrize("shape, normalized_shape", [((5, 8), 8), ((2, 3, 4, 5), (4, 5)), ((3, 6), (3, 6))])
def test_layernorm_matches_torch(rng, shape, normalized_shape, kw):
    ours, theirs = nn.LayerNorm(normalized_shape, **kw), torch.nn.LayerNorm(normalized_shape, **kw)
    if theirs.weight is not None:
        with torch.no_grad():
            theirs.weight.copy_(torch.tensor(_f32(rng.uniform(0.5, 2, theirs.weight.shape))))
            if theirs.bias is not None:
                theirs.bias.copy_(torch.tensor(_f32(rng.standard_normal(theirs.bias.shape))))
    ours.load_state_dict(theirs.state_dict())
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for mode in (True, False):  # the same computation in both modes
        ours.train(mode)
        theirs.train(mode)
        _step(ours, theirs, _f32(rng.standard_normal(shape) * 4 - 1), rng)


def test_layer_norm_passes_gradcheck(grad_check, rng):
    grad_check(lambda x, w, b: F.layer_norm(x, (3, 4), w, b),
               rng.standard_normal((2, 3, 4)), rng.uniform(0.5, 2, (3, 4)), rng.standard_normal((3, 4)))
    grad_check(lambda x: F.layer_norm(x, 5), rng.standard_normal((3, 5)))


def test_layer_norm_output_has_zero_mean_unit_variance_per_sample(rng):
    y = F.layer_norm(descend.tensor(_f32(rng.standard_normal((4, 64)) * 7 + 3)), 64).numpy()
    np.testing.assert_allclose(y.mean(axis=1), 0, atol=1e-5)
    np.testing.assert_allclose(y.var(axis=1), 1, atol=1e-3)


# ------------------------------------------------------------------------------------------------ errors


def test_normalisation_errors_name_the_bad_value():
    with pytest.raises(ValueError, match=r"BatchNorm2d\(3\) got input of shape \(2, 4, 5, 5\) with 4 channels"):
        nn.BatchNorm2d(3)(descend.tensor(np.zeros((2, 4, 5, 5), np.float32)))
    with pytest.raises(ValueError, match=r"BatchNorm1d expects 2-D or 3-D input, got shape \(2, 3, 4, 4\)"):
        nn.BatchNorm1d(3)(descend.tensor(np.zeros((2, 3, 4, 4), np.float32)))
    with pytest.raises(ValueError, match=r"more than 1 value per channel when training.*model.eval\(\)"):
        nn.BatchNorm1d(3)(descend.tensor(np.zeros((1, 3), np.float32)))
    with pytest.raises(ValueError, match=r"momentum must be in \[0, 1\] or None.*got 1.5"):
        nn.BatchNorm1d(3, momentum=1.5)
    with pytest.raises(ValueError, match=r"eps must be > 0, got -1"):
        nn.LayerNorm(4, eps=-1)
    with pytest.raises(ValueError, match=r"normalized_shape \(4,\) must equal the trailing dimensions.*\(2, 5\)"):
        nn.LayerNorm(4)(descend.tensor(np.zeros((2, 5), np.float32)))
    with pytest.raises(ValueError, match=r"running_mean has shape \(2,\).*must have shape \(3,\)"):
        F.batch_norm(descend.tensor(np.zeros((4, 3), np.float32)), np.zeros(2), np.ones(3))


def test_batchnorm_one_sample_works_in_eval_mode(rng):
    bn = nn.BatchNorm1d(3).eval()
    x = _f32(rng.standard_normal((1, 3)))
    np.testing.assert_allclose(bn(descend.tensor(x)).numpy(), x / np.sqrt(1 + 1e-5), rtol=1e-6)
