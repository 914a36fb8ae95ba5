"""Losses (functional and modules): forward values and gradients against PyTorch for every option and every
reduction, stability for large logits, gradcheck in float64, and the error messages."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import descend
import descend.nn as nn
import descend.nn.functional as F

REDUCTIONS = ["mean", "sum", "none"]


def _f32(a):
    return np.asarray(a, dtype=np.float32)


# ------------------------------------------------------------------------------------------------ regression


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name, d_fn, t_fn", [
    ("mse", lambda x, y, r: F.mse_loss(x, y, reduction=r), lambda x, y, r: TF.mse_loss(x, y, reduction=r)),
    ("l1", lambda x, y, r: F.l1_loss(x, y, reduction=r), lambda x, y, r: TF.l1_loss(x, y, reduction=r)),
    ("huber_0.5", lambda x, y, r: F.huber_loss(x, y, reduction=r, delta=0.5),
     lambda x, y, r: TF.huber_loss(x, y, reduction=r, delta=0.5)),
    ("huber_2", lambda x, y, r: F.huber_loss(x, y, reduction=r, delta=2.0),
     lambda x, y, r: TF.huber_loss(x, y, reduction=r, delta=2.0)),
    ("smooth_l1_0.7", lambda x, y, r: F.smooth_l1_loss(x, y, reduction=r, beta=0.7),
     lambda x, y, r: TF.smooth_l1_loss(x, y, reduction=r, beta=0.7)),
])
def test_regression_losses_match_torch_for_input_and_target(torch_check, rng, name, d_fn, t_fn, reduction):
    x = _f32(rng.standard_normal((6, 5)) * 2)
    y = _f32(rng.standard_normal((6, 5)) * 2)
    torch_check(lambda a, b: d_fn(a, b, reduction), lambda a, b: t_fn(a, b, reduction), x, y)


@pytest.mark.parametrize("module, torch_module", [
    (nn.MSELoss(reduction="sum"), torch.nn.MSELoss(reduction="sum")),
    (nn.L1Loss(), torch.nn.L1Loss()),
    (nn.HuberLoss(delta=0.3), torch.nn.HuberLoss(delta=0.3)),
    (nn.SmoothL1Loss(beta=0.5, reduction="none"), torch.nn.SmoothL1Loss(beta=0.5, reduction="none")),
])
def test_regression_loss_modules_match_torch_modules(torch_check, rng, module, torch_module):
    x = _f32(rng.standard_normal((4, 3, 2)))
    y = _f32(rng.standard_normal((4, 3, 2)))
    torch_check(module, torch_module, x, y)


def test_huber_is_quadratic_inside_delta_and_linear_outside():
    x = descend.tensor([0.5, 3.0, -4.0], requires_grad=True)
    loss = F.huber_loss(x, np.zeros(3, np.float32), reduction="sum", delta=1.0)
    assert loss.item() == pytest.approx(0.125 + 2.5 + 3.5)
    loss.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.5, 1.0, -1.0])


def test_integer_targets_are_cast_for_regression_losses():
    x = descend.tensor([[1.5, 2.0], [0.0, -1.0]], requires_grad=True)
    loss = F.mse_loss(x, np.array([[1, 2], [0, 0]]))
    assert loss.dtype == np.float32
    assert loss.item() == pytest.approx((0.25 + 0 + 0 + 1) / 4)
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), [[0.25, 0], [0, -0.5]])


def test_regression_losses_pass_gradcheck(grad_check, rng):
    x, y = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    for fn in (lambda a, b: F.mse_loss(a, b, reduction="none"), lambda a, b: F.l1_loss(a, b),
               lambda a, b: F.huber_loss(a, b, delta=0.6, reduction="sum"),
               lambda a, b: F.smooth_l1_loss(a, b, beta=0.8)):
        grad_check(fn, x, y)


# ------------------------------------------------------------------------------------------------ binary


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_bce_matches_torch(torch_check, rng, reduction, weighted):
    p = _f32(rng.uniform(0.02, 0.98, (5, 3)))
    y = _f32(rng.uniform(0, 1, (5, 3)))  # soft targets, so the target gradient is exercised too
    w = _f32(rng.uniform(0.5, 2, (3,))) if weighted else None
    torch_check(lambda a, b: F.binary_cross_entropy(a, b, weight=w, reduction=reduction),
                lambda a, b: TF.binary_cross_entropy(a, b, weight=None if w is None else torch.tensor(w),
                                                     reduction=reduction), p, y)


def test_bce_clamps_log_at_minus_100_for_saturated_probabilities():
    p = _f32([0.0, 1.0, 0.0, 1.0, 0.5])
    y = _f32([1.0, 0.0, 0.0, 1.0, 1.0])
    x = descend.tensor(p, requires_grad=True)
    xt = torch.tensor(p, requires_grad=True)
    out = F.binary_cross_entropy(x, y, reduction="none")
    ot = TF.binary_cross_entropy(xt, torch.tensor(y), reduction="none")
    np.testing.assert_allclose(out.numpy(), ot.detach().numpy(), rtol=1e-6)
    assert out.numpy()[0] == pytest.approx(100.0)
    out.sum().backward()
    ot.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-5)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted, pos_weighted", [(False, False), (True, False), (False, True), (True, True)])
def test_bce_with_logits_matches_torch(torch_check, rng, reduction, weighted, pos_weighted):
    z = _f32(rng.standard_normal((6, 4)) * 3)
    y = _f32(rng.uniform(0, 1, (6, 4)))
    w = _f32(rng.uniform(0.5, 2, (6, 1))) if weighted else None
    pw = _f32(rng.uniform(0.2, 5, (4,))) if pos_weighted else None
    tw = None if w is None else torch.tensor(w)
    tpw = None if pw is None else torch.tensor(pw)
    torch_check(lambda a, b: F.binary_cross_entropy_with_logits(a, b, weight=w, reduction=reduction, pos_weight=pw),
                lambda a, b: TF.binary_cross_entropy_with_logits(a, b, weight=tw, reduction=reduction,
                                                                 pos_weight=tpw), z, y)


@pytest.mark.parametrize("pos_weighted", [False, True])
def test_bce_with_logits_is_stable_for_logits_of_1000(torch_check, pos_weighted):
    z = _f32([1000.0, -1000.0, 1000.0, -1000.0, 80.0, -80.0])
    y = _f32([1.0, 0.0, 0.0, 1.0, 0.3, 0.7])
    pw = _f32([2.5]) if pos_weighted else None
    out = torch_check(lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction="none", pos_weight=pw),
                      lambda a, b: TF.binary_cross_entropy_with_logits(
                          a, b, reduction="none", pos_weight=None if pw is None else torch.tensor(pw)), z, y,
                      requires_grad=[True, False])
    assert np.all(np.isfinite(out.numpy()))
    assert out.numpy()[0] == 0.0 and out.numpy()[2] == pytest.approx(1000.0)


def test_bce_module_registers_weight_and_pos_weight_buffers_like_torch(rng):
    w, pw = _f32(rng.uniform(0.5, 2, (3,))), _f32([1.0, 2.0, 3.0])
    ours = nn.BCEWithLogitsLoss(weight=w, pos_weight=pw, reduction="sum")
    theirs = torch.nn.BCEWithLogitsLoss(weight=torch.tensor(w), pos_weight=torch.tensor(pw), reduction="sum")
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight", "pos_weight"]
    z, y = _f32(rng.standard_normal((4, 3))), _f32(rng.integers(0, 2, (4, 3)))
    assert ours(descend.tensor(z), y).item() == pytest.approx(theirs(torch.tensor(z), torch.tensor(y)).item(), rel=1e-6)
    p = _f32(rng.uniform(0.1, 0.9, (4, 3)))
    bce, tbce = nn.BCELoss(weight=w), torch.nn.BCELoss(weight=torch.tensor(w))
    assert bce(p, y).item() == pytest.approx(tbce(torch.tensor(p), torch.tensor(y)).item(), rel=1e-6)


def test_binary_losses_pass_gradcheck(grad_check, rng):
    p, y = rng.uniform(0.1, 0.9, (3, 4)), rng.uniform(0, 1, (3, 4))
    w, pw = rng.uniform(0.5, 2, (3, 4)), rng.uniform(0.5, 3, (4,))
    grad_check(lambda a, b: F.binary_cross_entropy(a, b, weight=w, reduction="sum"), p, y)
    z = rng.standard_normal((3, 4)) * 2
    grad_check(lambda a, b: F.binary_cross_entropy_with_logits(a, b), z, y)
    grad_check(lambda a, b: F.binary_cross_entropy_with_logits(a, b, weight=w, pos_weight=pw, reduction="none"), z, y)


# ------------------------------------------------------------------------------------------------ cross-entropy

CE_OPTIONS = [dict(), dict(weight=True), dict(label_smoothing=0.2), dict(ignore_index=1),
              dict(weight=True, label_smoothing=0.3, ignore_index=2), dict(weight=True, ignore_index=-100)]


def _ce_pair(opts, C, rng):
    opts = dict(opts)
    if opts.pop("weight", False):
        w = _f32(rng.uniform(0.2, 3.0, C))
        return dict(opts, weight=w), dict(opts, weight=torch.tensor(w))
    return opts, dict(opts)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("opts", CE_OPTIONS, ids=lambda o: "-".join(o) or "plain")
@pytest.mark.parametrize("shape", [(7, 4), (3, 4, 2, 3), (4,)], ids=["NC", "NCHW", "C"])
def test_cross_entropy_with_indices_matches_torch(torch_check, rng, shape, opts, reduction):
    C = shape[0] if len(shape) == 1 else shape[1]
    target_shape = () if len(shape) == 1 else (shape[0],) + shape[2:]
    z = _f32(rng.standard_normal(shape) * 2)
    t = rng.integers(0, C, target_shape)
    if "ignore_index" in opts and t.ndim:
        t.reshape(-1)[::3] = opts["ignore_index"]  # make sure some targets are ignored
    d_opts, t_opts = _ce_pair(opts, C, rng)
    torch_check(lambda a, b: F.cross_entropy(a, b, reduction=reduction, **d_opts),
                lambda a, b: TF.cross_entropy(a, b, reduction=reduction, **t_opts), z, t)
    d_opts.pop("label_smoothing", None)
    t_opts.pop("label_smoothing", None)
    torch_check(lambda a, b: F.nll_loss(F.log_softmax(a, axis=0 if len(shape) == 1 else 1), b,
                                        reduction=reduction, **d_opts),
                lambda a, b: TF.nll_loss(TF.log_softmax(a, dim=0 if len(shape) == 1 else 1), b,
                                         reduction=reduction, **t_opts), z, t)


def test_weighted_mean_divides_by_the_weights_of_counted_targets():
    z = descend.tensor(np.zeros((3, 2), np.float32), requires_grad=True)  # every log p = log ½
    w = _f32([1.0, 3.0])
    loss = F.cross_entropy(z, np.array([0, 1, 1]), weight=w, ignore_index=0)
    # targets 1, 1 count (weight 3 each): (3 log2 + 3 log2) / (3 + 3) = log 2; the ignored 0 adds nothing
    assert loss.item() == pytest.approx(np.log(2), rel=1e-6)
    loss = F.cross_entropy(z, np.array([0, 1, 1]), weight=w)
    assert loss.item() == pytest.approx(np.log(2), rel=1e-6)
    assert F.cross_entropy(z, np.array([0, 1, 1]), weight=w, reduction="sum").item() == pytest.approx(7 * np.log(2))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("opts", [dict(), dict(label_smoothing=0.25), dict(weight=True),
                                  dict(weight=True, label_smoothing=0.1)], ids=lambda o: "-".join(o) or "plain")
@pytest.mark.parametrize("shape", [(5, 3), (2, 3, 2, 2)], ids=["NC", "NCHW"])
def test_cross_entropy_with_probability_targets_matches_torch(torch_check, rng, shape, opts, reduction):
    z = _f32(rng.standard_normal(shape))
    t = _f32(rng.dirichlet(np.ones(shape[1]), size=(shape[0],) + shape[2:]))
    t = np.moveaxis(t, -1, 1).copy()
    d_opts, t_opts = _ce_pair(opts, shape[1], rng)
    torch_check(lambda a, b: F.cross_entropy(a, b, reduction=reduction, **d_opts),
                lambda a, b: TF.cross_entropy(a, b, reduction=reduction, **t_opts), z, t)


def test_cross_entropy_of_one_unbatched_sample_with_probabilities_matches_torch(torch_check, rng):
    z, t = _f32(rng.standard_normal(5)), _f32(rng.dirichlet(np.ones(5)))
    torch_check(lambda a, b: F.cross_entropy(a, b, label_smoothing=0.2),
                lambda a, b: TF.cross_entropy(a, b, label_smoothing=0.2), z, t)


@pytest.mark.parametrize("opts", [dict(), dict(label_smoothing=0.1, weight=True), dict(ignore_index=0)],
                         ids=lambda o: "-".join(o) or "plain")
def test_cross_entropy_is_stable_for_logits_of_1000(torch_check, rng, opts):
    z = _f32(rng.choice([-1000.0, 0.0, 1000.0], size=(6, 5)))
    z[0] = 1000.0  # a row of equal huge logits
    t = rng.integers(0, 5, 6)
    d_opts, t_opts = _ce_pair(opts, 5, rng)
    for reduction in REDUCTIONS:
        out = torch_check(lambda a, b: F.cross_entropy(a, b, reduction=reduction, **d_opts),
                          lambda a, b: TF.cross_entropy(a, b, reduction=reduction, **t_opts), z, t, atol=1e-4)
        assert np.all(np.isfinite(out.numpy()))
    probs = _f32(rng.dirichlet(np.ones(5), 6))
    torch_check(lambda a, b: F.cross_entropy(a, b), lambda a, b: TF.cross_entropy(a, b), z, probs, atol=1e-3)


def test_cross_entropy_is_accurate_when_rows_differ_in_scale(torch_check, rng):
    # rows whose max lies 0..68 below the global max (the shared-shift fast path) and 300 below (per-row shift)
    for spread in (68.0, 300.0):
        z = _f32(rng.standard_normal((16, 7)) + rng.uniform(-spread, 0, (16, 1)))
        t = rng.integers(0, 7, 16)
        torch_check(lambda a, b: F.cross_entropy(a, b), lambda a, b: TF.cross_entropy(a, b), z, t)
        torch_check(lambda a, b: F.cross_entropy(a, b, reduction="none", label_smoothing=0.1),
                    lambda a, b: TF.cross_entropy(a, b, reduction="none", label_smoothing=0.1), z, t)


def test_cross_entropy_gradient_is_softmax_minus_onehot_over_n(rng):
    z = _f32(rng.standard_normal((8, 3)))
    t = rng.integers(0, 3, 8)
    x = descend.tensor(z, requires_grad=True)
    F.cross_entropy(x, t).backward()
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    np.testing.assert_allclose(x.grad.numpy(), (p - np.eye(3)[t]) / 8, atol=1e-7)


def test_cross_entropy_and_nll_modules_match_torch_modules(torch_check, rng):
    w = _f32(rng.uniform(0.5, 2, 4))
    z, t = _f32(rng.standard_normal((9, 4))), rng.integers(0, 4, 9)
    t[0] = 3
    ce = nn.CrossEntropyLoss(weight=w, ignore_index=3, label_smoothing=0.15)
    tce = torch.nn.CrossEntropyLoss(weight=torch.tensor(w), ignore_index=3, label_smoothing=0.15)
    torch_check(ce, tce, z, t)
    assert list(ce.state_dict()) == list(tce.state_dict()) == ["weight"]
    torch_check(lambda a, b: nn.NLLLoss(weight=w, reduction="sum")(a.log_softmax(axis=1), b),
                lambda a, b: torch.nn.NLLLoss(weight=torch.tensor(w), reduction="sum")(a.log_softmax(1), b), z, t)
    assert list(nn.CrossEntropyLoss().state_dict()) == []


def test_class_losses_pass_gradcheck(grad_check, rng):
    z = rng.standard_normal((5, 3, 2))
    t = rng.integers(0, 3, (5, 2))
    t[0, 0] = 1
    w = rng.uniform(0.5, 2, 3)
    grad_check(lambda a: F.cross_entropy(a, t[:, 0]), rng.standard_normal((5, 3)))  # 2-D (the fast path)
    for opts in CE_OPTIONS:
        kw = dict(opts, weight=w) if opts.get("weight") else dict(opts)
        for reduction in REDUCTIONS:
            grad_check(lambda a: F.cross_entropy(a, t, reduction=reduction, **kw), z)
    probs = np.moveaxis(rng.dirichlet(np.ones(3), size=(5, 2)), -1, 1).copy()
    grad_check(lambda a, b: F.cross_entropy(a, b, weight=w, label_smoothing=0.2, reduction="none"), z, probs)
    grad_check(lambda a: F.nll_loss(a, t, weight=w, ignore_index=1), z)


def test_all_ignored_targets_give_nan_mean_like_torch():
    z = np.zeros((2, 3), np.float32)
    t = np.array([-100, -100])
    ours = F.cross_entropy(descend.tensor(z), t).item()
    theirs = TF.cross_entropy(torch.tensor(z), torch.tensor(t)).item()
    assert np.isnan(ours) and np.isnan(theirs)


# ------------------------------------------------------------------------------------------------ errors


def test_class_index_out_of_range_names_the_index_and_class_count():
    z = descend.tensor(np.zeros((3, 4), np.float32))
    with pytest.raises(ValueError, match=r"class index 7 is out of range for 4 classes"):
        F.cross_entropy(z, np.array([0, 7, 1]))
    with pytest.raises(ValueError, match=r"class index -1 is out of range for 4 classes"):
        F.nll_loss(z, np.array([0, -1, 1]))


def test_float_targets_for_cross_entropy_get_a_hint():
    z = descend.tensor(np.zeros((3, 4), np.float32))
    with pytest.raises(TypeError, match=r"must be integers; convert them with target.long\(\)"):
        F.cross_entropy(z, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(TypeError, match=r"class-probability targets must be floating point"):
        F.cross_entropy(z, np.eye(4, dtype=np.int64)[[0, 1, 2]])


def test_shape_mismatches_name_both_shapes():
    with pytest.raises(ValueError, match=r"target shape \(4,\) differs from input shape \(4, 1\)"):
        F.mse_loss(descend.tensor(np.zeros((4, 1), np.float32)), np.zeros(4, np.float32))
    with pytest.raises(ValueError, match=r"target shape \(2,\) does not fit input shape \(3, 4\)"):
        F.cross_entropy(descend.tensor(np.zeros((3, 4), np.float32)), np.array([0, 1]))
    with pytest.raises(ValueError, match=r"weight must have one entry per class, shape \(4,\), got shape \(3,\)"):
        F.cross_entropy(descend.tensor(np.zeros((3, 4), np.float32)), np.array([0, 1, 2]), weight=np.ones(3))


def test_bce_rejects_values_outside_0_1_with_a_hint():
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\], found 1.5.*with_logits"):
        F.binary_cross_entropy(descend.tensor([0.2, 1.5]), np.array([0.0, 1.0], np.float32))
    with pytest.raises(ValueError, match=r"found -0.5"):
        nn.BCELoss()(descend.tensor([-0.5, 0.5]), np.array([0.0, 1.0], np.float32))


def test_bad_hyperparameters_are_rejected():
    with pytest.raises(ValueError, match=r"reduction must be 'mean', 'sum' or 'none', got 'avg'"):
        nn.MSELoss(reduction="avg")
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 1\], got 1.5"):
        nn.CrossEntropyLoss(label_smoothing=1.5)
    with pytest.raises(ValueError, match=r"delta must be > 0, got 0"):
        nn.HuberLoss(delta=0)
    with pytest.raises(ValueError, match=r"reduction must be"):
        F.cross_entropy(descend.tensor(np.zeros((1, 2), np.float32)), np.array([0]), reduction="avg")


# ------------------------------------------------------------------------------------------------ learning


def test_cross_entropy_trains_a_softmax_classifier_to_separate_blobs(rng):
    centres = _f32([[3, 0], [-3, 0], [0, 3]])
    y = rng.integers(0, 3, 300)
    x = _f32(centres[y] + rng.standard_normal((300, 2)))
    w = descend.tensor(np.zeros((3, 2), np.float32), requires_grad=True)
    b = descend.tensor(np.zeros(3, np.float32), requires_grad=True)
    first = None
    for _ in range(100):
        loss = F.cross_entropy(F.linear(descend.tensor(x), w, b), y, label_smoothing=0.05)
        first = loss.item() if first is None else first
        w.grad = b.grad = None
        loss.backward()
        with descend.no_grad():
            w -= 0.5 * w.grad
            b -= 0.5 * b.grad
    accuracy = (np.argmax(x @ w.numpy().T + b.numpy(), 1) == y).mean()
    assert first == pytest.approx(np.log(3), rel=1e-5)
    assert loss.item() < 0.4 and accuracy > 0.95
