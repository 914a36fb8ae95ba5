"""Parameters keep their own arrays under an optimiser (as in PyTorch); the optimiser's options."""

import tracemalloc

import numpy as np
import pytest
import torch

import descend
from descend import optim


def _linear_params(rng):
    """A Linear layer's parameters (its weight stored transposed) and two small ones, as descend tensors."""
    lin = descend.nn.Linear(300, 4)  # weight: 1,200 elements, stored in Fortran order
    extra = [descend.tensor(rng.standard_normal(s).astype(np.float32), requires_grad=True) for s in ((3, 2), (5,))]
    return [lin.weight, lin.bias] + extra


MAKERS = [
    (lambda ps: optim.Adam(ps, lr=0.01, chunk_size=512), lambda qs: torch.optim.Adam(qs, lr=0.01)),
    (lambda ps: optim.AdamW(ps, lr=0.01, weight_decay=0.1, chunk_size=512),
     lambda qs: torch.optim.AdamW(qs, lr=0.01, weight_decay=0.1)),
    (lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01, chunk_size=512),
     lambda qs: torch.optim.SGD(qs, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
]


@pytest.mark.parametrize("make, make_torch", MAKERS)
def test_array_taken_from_p_data_before_the_optimiser_sees_every_update(make, make_torch):
    rng = np.random.default_rng(0)
    ps = _linear_params(rng)
    qs = [torch.tensor(p.array.copy(), requires_grad=True) for p in ps]
    taken = [p.array for p in ps]  # arrays a user took before building the optimiser
    opt, topt = make(ps), make_torch(qs)
    for _ in range(30):
        for p, q in zip(ps, qs):
            g = rng.standard_normal(p.shape).astype(np.float32)
            p.grad, q.grad = descend.tensor(g), torch.tensor(g)
        opt.step()
        topt.step()
    assert all(p.array is a for p, a in zip(ps, taken))  # never rebound
    assert ps[0].array.flags.f_contiguous  # the transposed weight keeps its layout
    for a, q in zip(taken, qs):
        np.testing.assert_allclose(a, q.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_rebinding_p_data_is_used_from_then_on_in_any_memory_order():
    rng = np.random.default_rng(1)
    ps = _linear_params(rng)
    qs = [torch.tensor(p.array.copy(), requires_grad=True) for p in ps]
    opt, topt = optim.Adam(ps, lr=0.01, chunk_size=512), torch.optim.Adam(qs, lr=0.01)
    for k in range(20):
        if k == 10:  # the weight becomes a C-ordered array, a small one a fresh array: their state follows them
            new_w = np.ascontiguousarray(ps[0].array * 0.5)
            new_b = ps[2].array + 1.0
            ps[0].array, ps[2].array = new_w, new_b
            with torch.no_grad():
                qs[0].mul_(0.5)
                qs[2].add_(1.0)
        for p, q in zip(ps, qs):
            g = rng.standard_normal(p.shape).astype(np.float32)
            p.grad, q.grad = descend.tensor(g), torch.tensor(g)
        opt.step()
        topt.step()
    assert ps[0].array is new_w and ps[2].array is new_b
    for p, q in zip(ps, qs):
        np.testing.assert_allclose(p.array, q.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(opt.state[ps[0]]["exp_avg"], topt.state[qs[0]]["exp_avg"].numpy(), rtol=1e-5,
                               atol=1e-7)


@pytest.mark.parametrize("array, match", [
    (np.zeros((2, 3), np.float32), "shape"),
    (np.zeros(4, np.float64), "dtype"),
    (np.zeros(8, np.float32)[::2], "contiguous"),
])
def test_rebinding_p_data_to_an_unusable_array_raises_one_line(array, match):
    p = descend.tensor(np.ones(4, np.float32), requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    p.array = array
    p.grad = descend.tensor(np.ones(4, np.float32))
    with pytest.raises(ValueError, match=match) as info:
        opt.step()
    assert "\n" not in str(info.value)


def test_two_optimisers_over_overlapping_parameters_match_torch_stepped_alternately():
    rng = np.random.default_rng(2)
    init = [rng.standard_normal(s).astype(np.float32) for s in ((30, 20), (20,), (6, 5), (5,))]
    ps = [descend.tensor(a.copy(), requires_grad=True) for a in init]
    qs = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    a, ta = optim.Adam(ps[:3], lr=0.01, chunk_size=256), torch.optim.Adam(qs[:3], lr=0.01)
    b = optim.SGD(ps[1:], lr=0.02, momentum=0.9, weight_decay=0.01, chunk_size=256)
    tb = torch.optim.SGD(qs[1:], lr=0.02, momentum=0.9, weight_decay=0.01)
    for k in range(60):
        for p, q in zip(ps, qs):
            g = rng.standard_normal(p.shape).astype(np.float32)
            p.grad, q.grad = descend.tensor(g), torch.tensor(g)
        (a if k % 2 == 0 else b).step()
        (ta if k % 2 == 0 else tb).step()
    for p, q in zip(ps, qs):
        np.testing.assert_allclose(p.array, q.detach().numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("make", [
    lambda ps: optim.SGD(ps, lr=1e-2, momentum=0.9, nesterov=True, weight_decay=1e-4),  # gathers θ for the decay
    lambda ps: optim.AdamW(ps, lr=1e-3, weight_decay=1e-2),  # the chain, not the fused step
    lambda ps: optim.chain(ps, optim.rules.clip(0.1), optim.rules.scale_by_adam(),
                           optim.rules.scale_by_learning_rate(1e-3)),
])
def test_step_with_shared_chunks_and_decay_allocates_nothing(make):
    rng = np.random.default_rng(3)
    ps = [descend.tensor(rng.standard_normal(s).astype(np.float32), requires_grad=True)
          for s in ((256, 784), (256,), (256,), (256, 256), (256,), (10, 256), (10,))]
    opt = make(ps)
    for p in ps:
        p.grad = descend.tensor(rng.standard_normal(p.shape).astype(np.float32))
    opt.step()  # the update and gathering arrays are made here
    tracemalloc.start()
    try:
        for _ in range(3):
            opt.step()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 << 10  # a few Python objects; the parameters are 1.1 MB


def _dead_grads(rng, steps):
    grads = []
    for k in range(steps):
        g = rng.standard_normal((8, 16)).astype(np.float32)
        g[4:] = 1e-36 if k == 0 else 0.0  # rows 4-7 get a tiny gradient once, then none: subnormal moments
        grads.append(g)
    return grads


def _subnormal(a):
    return (a != 0) & (np.abs(a) < np.finfo(a.dtype).tiny)


def test_flush_option_sets_the_period_and_is_saved_in_and_restored_from_the_state_dict():
    rng = np.random.default_rng(4)
    grads = _dead_grads(rng, 200)
    p = descend.tensor(rng.standard_normal((8, 16)).astype(np.float32), requires_grad=True)
    opt = optim.Adam([p], lr=1e-3, flush_subnormals_every=40)
    stored = opt._buckets[0][0].state["exp_avg"]
    seen = []
    for k, g in enumerate(grads, start=1):
        p.grad = descend.tensor(g)
        opt.step()
        seen.append(bool(_subnormal(stored).any()))
    # subnormal from step 44 (1e-36·0.9ᵏ), flushed at step 80 (a multiple of 40, not of the default 128), then 0
    assert seen[79 - 1] and not any(seen[80 - 1:])
    assert opt.state_dict()["options"] == {"flush_subnormals_every": 40}
    other = optim.Adam([descend.tensor(p.array.copy(), requires_grad=True)], lr=1e-3)
    assert other.flush_subnormals_every == 128
    other.load_state_dict(opt.state_dict())
    assert other.flush_subnormals_every == 40
    sd = opt.state_dict()
    del sd["options"]  # as PyTorch's state dicts come: the optimiser keeps its own setting
    other.flush_subnormals_every = 0
    other.load_state_dict(sd)
    assert other.flush_subnormals_every == 0
    with pytest.raises(ValueError, match="flush_subnormals_every"):
        other.flush_subnormals_every = 1.5
