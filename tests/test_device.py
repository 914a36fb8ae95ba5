"""The device API: descend.device behaves as torch.device, the GPU queries say no GPU, and .to()/.cpu()
move nothing but cast dtypes, for tensors and modules; any non-CPU device is a one-line error."""

import pickle

import numpy as np
import pytest
import torch

import descend
import descend.nn as nn


@pytest.mark.parametrize("args", [("cpu",), ("cpu", 0), ("cuda",), ("cuda:1",), ("cuda", 2), ("mps",)])
def test_device_str_repr_type_index_match_torch(args):
    d, t = descend.device(*args), torch.device(*args)
    assert (str(d), d.type, d.index) == (str(t), t.type, t.index)
    assert repr(d) == repr(t)


def test_device_equality_and_hash_match_torch():
    pairs = [(("cpu",), ("cpu",)), (("cpu",), ("cpu", 0)), (("cuda:0",), ("cuda", 0)), (("cpu",), ("cuda",))]
    for a, b in pairs:
        assert (descend.device(*a) == descend.device(*b)) == (torch.device(*a) == torch.device(*b))
    assert (descend.device("cpu") == "cpu") == (torch.device("cpu") == "cpu")
    assert hash(descend.device("cpu")) == hash(descend.device(descend.device("cpu")))
    assert len({descend.device("cpu"), descend.device("cpu"), descend.device("cpu", 0)}) == 2
    assert pickle.loads(pickle.dumps(descend.device("cuda:1"))) == descend.device("cuda", 1)


def test_a_bare_ordinal_names_an_accelerator_and_fails_as_in_cpu_only_torch():
    with pytest.raises(descend.DeviceUnavailableError, match="no accelerator"):
        descend.device(0)
    with pytest.raises(RuntimeError, match="accelerator"):
        torch.device(0)


@pytest.mark.parametrize("bad", ["gpu", "cuda:x", "cpu:-1"])
def test_unknown_device_string_is_a_one_line_error(bad):
    with pytest.raises(ValueError, match="device"):
        descend.device(bad)
    with pytest.raises(RuntimeError):
        torch.device(bad)  # the oracle rejects it too


def test_gpu_queries_say_there_is_no_gpu_like_cpu_only_torch():
    assert descend.cuda.is_available() is False and descend.cuda.device_count() == 0
    assert descend.accelerator.is_available() is False and descend.accelerator.current_accelerator() is None
    assert descend.backends.mps.is_available() is False
    assert descend.backends.cudnn.is_available() is torch.backends.cudnn.is_available()
    descend.backends.cudnn.deterministic = True  # tutorials set it; it is stored
    assert descend.backends.cudnn.deterministic is True
    descend.cuda.manual_seed_all(0)  # accepted, does nothing
    device = "cuda" if descend.cuda.is_available() else "mps" if descend.backends.mps.is_available() else "cpu"
    assert device == "cpu"
    acc = descend.accelerator.current_accelerator().type if descend.accelerator.is_available() else "cpu"
    assert acc == "cpu"


def test_tensor_device_and_to_device_return_the_tensor_itself():
    x = descend.randn(2, 3)
    assert x.device == descend.device("cpu") and str(x.device) == "cpu" and x.is_cuda is False
    assert x.to("cpu") is x and x.to(descend.device("cpu")) is x and x.cpu() is x
    assert x.to(device="cpu") is x and x.to(x.device) is x


@pytest.mark.parametrize("call", [lambda x: x.to(descend.float64), lambda x: x.to("cpu", descend.float64),
                                  lambda x: x.to(descend.device("cpu"), dtype=descend.float64),
                                  lambda x: x.to(dtype=descend.float64), lambda x: x.to(descend.zeros(1).double())])
def test_tensor_to_dtype_casts_and_keeps_the_gradient_path(call):
    data = np.arange(6, dtype=np.float32).reshape(2, 3)
    x = descend.tensor(data, requires_grad=True)
    y = call(x)
    assert y.dtype == descend.float64 and y.dtype == torch.tensor(data).to(torch.float64).numpy().dtype
    (y * y).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * data)
    assert x.grad.dtype == np.float32


def test_to_with_copy_gives_a_new_tensor():
    x = descend.ones(3)
    y = x.to("cpu", copy=True)
    y.array[0] = 5
    assert y is not x and x.tolist() == [1.0, 1.0, 1.0]


@pytest.mark.parametrize("call", [lambda x: x.cuda(), lambda x: x.to("cuda"), lambda x: x.to("cuda:0"),
                                  lambda x: x.to(descend.device("mps")), lambda x: x.to(0),
                                  lambda x: descend.zeros(2, device="cuda")])
def test_moving_a_tensor_to_a_gpu_is_a_one_line_error(call):
    with pytest.raises(descend.DeviceUnavailableError, match="CPU only") as info:
        call(descend.ones(2))
    assert "\n" not in str(info.value) and isinstance(info.value, RuntimeError)


def test_to_rejects_what_is_neither_a_device_nor_a_dtype():
    with pytest.raises(TypeError, match="unexpected keyword"):
        descend.ones(2).to(devic="cpu")
    with pytest.raises(TypeError):
        descend.ones(2).to("cpu", "no-such-dtype")


def _pair():
    torch.manual_seed(0)
    t = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    d = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    d.load_state_dict({k: v.numpy() for k, v in t.state_dict().items()})
    return d, t


def test_model_to_dtype_casts_floating_state_like_torch_and_leaves_integer_buffers():
    d, t = _pair()
    assert d.to(descend.float64) is d
    t.to(torch.float64)
    for (dk, dv), (tk, tv) in zip(d.state_dict().items(), t.state_dict().items()):
        assert dk == tk and np.asarray(dv).dtype == tv.numpy().dtype, dk


def test_model_to_cpu_and_device_return_the_model_and_cuda_raises():
    d, _ = _pair()
    assert d.to("cpu") is d and d.cpu() is d and d.to(descend.device("cpu"), descend.float32) is d
    assert d[0].weight.dtype == descend.float32
    with pytest.raises(descend.DeviceUnavailableError, match="not available"):
        d.cuda()
    with pytest.raises(descend.DeviceUnavailableError):
        d.to("cuda")
    with pytest.raises(TypeError, match="floating"):
        d.to(descend.int64)
