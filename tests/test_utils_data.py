"""descend.utils.data against torch.utils.data: orders, batch structures, dtypes, len, drop_last, samplers,
splits, the vectorised path over array data sets, and PyTorch programs run with ``import descend as torch``."""

import collections
import time

import numpy as np
import pytest
import torch
import torch.utils.data as tud

import descend
import descend.utils.data as dud
from descend.data import ArrayDataset
from descend.data.dataset import batch_gatherer
from descend.tensor import Tensor

# descend's dtype rule for data made into Tensors (torch keeps float64 and int32; descend documents this)
DTYPE_MAP = {torch.float64: np.float32, torch.float32: np.float32, torch.int64: np.int64,
             torch.int32: np.int64, torch.bool: np.bool_, torch.uint8: np.uint8}


def assert_same_batch(d, t, where="batch"):
    """descend batch ``d`` has torch batch ``t``'s structure, shapes, values and (mapped) dtypes."""
    if isinstance(t, torch.Tensor):
        assert isinstance(d, Tensor), f"{where}: {type(d).__name__} is not a descend Tensor"
        assert tuple(d.shape) == tuple(t.shape), f"{where}: shape {d.shape} != {tuple(t.shape)}"
        assert d.dtype == DTYPE_MAP[t.dtype], f"{where}: dtype {d.dtype} for torch {t.dtype}"
        np.testing.assert_allclose(d.array, t.numpy(), rtol=1e-6, err_msg=where)
        assert not d.requires_grad
    elif isinstance(t, dict):
        assert type(d) is type(t) and list(d) == list(t), f"{where}: {type(d).__name__} keys {list(d)}"
        for k in t:
            assert_same_batch(d[k], t[k], f"{where}/{k}")
    elif isinstance(t, (list, tuple)):
        assert type(d) is type(t) and len(d) == len(t), f"{where}: {type(d).__name__}/{len(d)} vs {type(t).__name__}/{len(t)}"
        for i, (a, b) in enumerate(zip(d, t)):
            assert_same_batch(a, b, f"{where}/{i}")
    else:
        assert d == t, f"{where}: {d!r} != {t!r}"


def _pairs(descend_loader, torch_loader):
    d, t = list(descend_loader), list(torch_loader)
    assert len(d) == len(t) == len(descend_loader) == len(torch_loader)
    return zip(d, t)


Point = collections.namedtuple("Point", "x y")


def _sample(i):
    """A sample of every kind default_collate handles, nested."""
    return {"image": np.full((2, 3), i, np.float32), "label": i, "weight": 0.5 * i, "flag": i % 2 == 0,
            "name": f"s{i}", "pixels": np.arange(4, dtype=np.uint8) + i, "i32": np.int32(i),
            "pair": (np.float64(i) / 3, [i, i + 1]), "point": Point(i, -i)}


class DescendSamples(dud.Dataset):
    def __len__(self):
        return 11

    def __getitem__(self, i):
        return _sample(i)


class TorchSamples(tud.Dataset):
    def __len__(self):
        return 11

    def __getitem__(self, i):
        return _sample(i)


def test_import_descend_as_torch_exposes_utils_data():
    import descend as torch_like
    from descend.utils.data import DataLoader, Dataset, TensorDataset

    assert torch_like.utils.data.DataLoader is DataLoader is descend.data.DataLoader
    assert Dataset is descend.data.Dataset and TensorDataset is descend.data.TensorDataset
    from descend.utils.data.dataloader import DataLoader as from_submodule
    from descend.utils.data.dataset import Subset
    from descend.utils.data.sampler import BatchSampler

    assert from_submodule is DataLoader and Subset is dud.Subset and BatchSampler is dud.BatchSampler
    for name in ["Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset", "random_split",
                 "DataLoader", "Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
                 "BatchSampler", "WeightedRandomSampler", "default_collate", "get_worker_info"]:
        assert hasattr(tud, name) and hasattr(dud, name), name


@pytest.mark.parametrize("batch_size,drop_last", [(1, False), (4, False), (4, True), (11, False), (20, True)])
def test_nested_samples_collate_like_torch_in_sequential_order(batch_size, drop_last):
    d = dud.DataLoader(DescendSamples(), batch_size=batch_size, drop_last=drop_last)
    t = tud.DataLoader(TorchSamples(), batch_size=batch_size, drop_last=drop_last)
    for i, (db, tb) in enumerate(_pairs(d, t)):
        assert_same_batch(db, tb, f"batch {i}")


def test_default_collate_dtypes_match_torch_and_departures_are_the_documented_ones():
    batch = [_sample(i) for i in range(3)]
    d, t = dud.default_collate(batch), tud.default_collate(batch)
    assert_same_batch(d, t)
    assert t["weight"].dtype == torch.float64 and d["weight"].dtype == np.float32   # documented departure
    assert t["i32"].dtype == torch.int32 and d["i32"].dtype == np.int64            # documented departure
    assert d["label"].dtype == np.int64 and d["flag"].dtype == np.bool_ and d["pixels"].dtype == np.uint8
    f64 = descend.tensor(np.ones(2), dtype="float64")   # a Tensor keeps its dtype, as in torch
    assert dud.default_collate([f64, f64]).dtype == np.float64
    assert isinstance(d["point"], Point) and isinstance(d["pair"], list)


def test_default_collate_errors_match_torch_kinds():
    for bad in ([None, None], [object(), object()]):
        with pytest.raises(TypeError, match="default_collate: batch must contain"):
            dud.default_collate(bad)
    with pytest.raises(RuntimeError, match="equal size"):
        dud.default_collate([[1, 2], [1]])
    with pytest.raises(RuntimeError, match=r"different shapes.*collate_fn"):
        dud.default_collate([np.zeros(2), np.zeros(3)])
    with pytest.raises(TypeError, match="<U1"):
        dud.default_collate([np.array(["a"]), np.array(["b"])])


@pytest.mark.parametrize("n,batch_size,drop_last", [(10, 3, False), (10, 3, True), (9, 3, True), (1, 5, False),
                                                     (64, 64, True), (65, 64, True)])
def test_tensor_dataset_batches_match_torch(n, batch_size, drop_last):
    x = np.arange(n * 2, dtype=np.float32).reshape(n, 2)
    y = np.arange(n) % 3
    d = dud.DataLoader(dud.TensorDataset(descend.tensor(x), descend.tensor(y)), batch_size=batch_size,
                       drop_last=drop_last)
    t = tud.DataLoader(tud.TensorDataset(torch.tensor(x), torch.tensor(y)), batch_size=batch_size,
                       drop_last=drop_last)
    assert len(d) == len(t) == (n // batch_size if drop_last else -(-n // batch_size))
    for db, tb in _pairs(d, t):
        assert_same_batch(db, tb)


def test_tensor_dataset_items_and_dtypes_follow_torch():
    x64 = descend.tensor(np.arange(6.0).reshape(3, 2), dtype="float64")
    ds = dud.TensorDataset(x64, np.array([1, 2, 3], np.int32))
    xi, yi = ds[1]
    assert isinstance(xi, Tensor) and xi.dtype == np.float64 and list(xi.array) == [2.0, 3.0]
    assert yi.dtype == np.int64 and int(yi.array) == 2
    xb, yb = next(iter(dud.DataLoader(ds, batch_size=3)))
    assert xb.dtype == np.float64 and yb.dtype == np.int64
    with pytest.raises(ValueError, match=r"tensor 0: 3, tensor 1: 2"):
        dud.TensorDataset(x64, np.zeros(2))


def test_bare_tensor_is_a_data_set_of_rows_as_in_torch():
    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    d = dud.DataLoader(descend.tensor(x), batch_size=4)
    t = tud.DataLoader(torch.tensor(x), batch_size=4)
    for db, tb in _pairs(d, t):
        assert_same_batch(db, tb)


def test_tuple_of_arrays_is_aligned_arrays_and_a_list_is_a_list_of_samples():
    """descend's rule: a tuple (x, y) is ArrayDataset(x, y) (torch would read two samples); a list is
    a list of samples, exactly as torch reads it."""
    x, y = np.arange(8.0).reshape(4, 2), np.arange(4)
    loader = dud.DataLoader((x, y), batch_size=4)
    assert isinstance(loader.dataset, ArrayDataset) and len(loader.dataset) == 4
    xb, yb = next(iter(loader))
    np.testing.assert_array_equal(xb.array, x)
    np.testing.assert_array_equal(yb.array, y)
    samples = [np.array([1.0, 2.0]), np.array([3.0, 4.0])]
    assert_same_batch(next(iter(dud.DataLoader(samples, batch_size=2))),
                      next(iter(tud.DataLoader(samples, batch_size=2))))


def test_range_and_plain_sequences_load_like_torch():
    for kw in [dict(batch_size=4), dict(batch_size=4, drop_last=True), dict(batch_size=None)]:
        for db, tb in _pairs(dud.DataLoader(range(10), **kw), tud.DataLoader(range(10), **kw)):
            assert_same_batch(db, tb)


@pytest.mark.parametrize("batch_size", [1, 7, 32, 100])
def test_seeded_shuffle_serves_every_index_exactly_once_per_epoch(batch_size):
    n = 100
    ds = dud.TensorDataset(descend.arange(n))
    loader = dud.DataLoader(ds, batch_size=batch_size, shuffle=True, generator=np.random.default_rng(0))
    epochs = [np.concatenate([b.array for (b,) in loader]) for _ in range(3)]
    for order in epochs:
        np.testing.assert_array_equal(np.sort(order), np.arange(n))
    assert not np.array_equal(epochs[0], epochs[1])
    again = dud.DataLoader(ds, batch_size=batch_size, shuffle=True, generator=np.random.default_rng(0))
    np.testing.assert_array_equal(np.concatenate([b.array for (b,) in again]), epochs[0])


def test_shuffled_generic_data_set_serves_every_sample_once_and_follows_manual_seed():
    def order():
        return [int(i) for b in dud.DataLoader(DescendSamples(), batch_size=3, shuffle=True) for i in b["label"].array]

    descend.manual_seed(4)
    first = order()
    assert sorted(first) == list(range(11)) and first != list(range(11))
    descend.manual_seed(4)
    assert order() == first


class Forwarding(dud.Dataset):
    """A plain data set over another: the loader must call __getitem__ per sample."""

    def __init__(self, inner):
        self.inner, self.calls = inner, 0

    def __len__(self):
        return len(self.inner)

    def __getitem__(self, i):
        self.calls += 1
        return self.inner[i]


@pytest.mark.parametrize("shuffle", [False, True])
def test_vectorised_path_gives_the_same_batches_as_per_sample_collation(shuffle):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((53, 3)), rng.integers(0, 5, 53)
    base = dud.TensorDataset(x, y)
    parts = dud.random_split(base, [0.6, 0.4], generator=np.random.default_rng(1))
    for ds in [base, ArrayDataset(x, y), parts[0], dud.ConcatDataset([parts[1], base]), base + parts[0]]:
        assert batch_gatherer(ds) is not None, type(ds).__name__
        slow = Forwarding(ds)
        fast_batches = list(dud.DataLoader(ds, batch_size=8, shuffle=shuffle, seed=3))
        slow_batches = list(dud.DataLoader(slow, batch_size=8, shuffle=shuffle, seed=3))
        assert slow.calls == len(ds)
        assert len(fast_batches) == len(slow_batches) == -(-len(ds) // 8)
        for f, s in zip(fast_batches, slow_batches):
            assert type(f) is type(s) is list and len(f) == len(s) == 2
            for a, b in zip(f, s):
                assert a.dtype == b.dtype and a.shape == b.shape
                np.testing.assert_array_equal(a.array, b.array)


def test_subclass_overriding_getitem_is_called_per_sample():
    class Doubled(dud.TensorDataset):
        def __getitem__(self, i):
            (x,) = super().__getitem__(i)
            return (x * 2,)

    ds = Doubled(np.arange(6.0))
    assert batch_gatherer(ds) is None and batch_gatherer(dud.Subset(ds, [0, 1])) is None
    (xb,) = next(iter(dud.DataLoader(ds, batch_size=6)))
    np.testing.assert_array_equal(xb.array, np.arange(6.0) * 2)


def test_concat_dataset_indexes_like_torch():
    a, b = list(range(5)), list(range(100, 103))
    d, t = dud.ConcatDataset([a, b]), tud.ConcatDataset([a, b])
    assert d.cumulative_sizes == t.cumulative_sizes == [5, 8] and len(d) == len(t) == 8
    assert [d[i] for i in range(-8, 8)] == [t[i] for i in range(-8, 8)]
    with pytest.raises(ValueError, match="out of range"):
        d[-9]


def test_concat_of_differently_shaped_parts_falls_back_to_collate_and_names_the_shapes():
    ds = dud.ConcatDataset([dud.TensorDataset(np.zeros((3, 2))), dud.TensorDataset(np.zeros((3, 4)))])
    assert batch_gatherer(ds) is None
    with pytest.raises(RuntimeError, match=r"different shapes"):
        list(dud.DataLoader(ds, batch_size=6))


@pytest.mark.parametrize("n,lengths", [(10, [0.33, 0.33, 0.34]), (11, [0.5, 0.5]), (10, [0.1] * 10),
                                       (7, [0.3, 0.3, 0.4]), (10, [3, 7]), (30, [0.3, 0.3, 0.4])])
def test_random_split_lengths_match_torch_and_partition_the_data(n, lengths):
    d = dud.random_split(range(n), lengths, generator=np.random.default_rng(0))
    t = tud.random_split(range(n), lengths, generator=torch.Generator().manual_seed(0))
    assert [len(s) for s in d] == [len(s) for s in t]
    assert all(isinstance(s, dud.Subset) for s in d)
    assert sorted(i for s in d for i in s) == list(range(n))
    again = dud.random_split(range(n), lengths, generator=np.random.default_rng(0))
    assert [list(s) for s in again] == [list(s) for s in d]


def test_random_split_rejects_bad_lengths():
    with pytest.raises(ValueError, match="sum to the data set's length 10"):
        dud.random_split(range(10), [3, 3])
    with pytest.raises(ValueError, match="fractions must sum to 1"):
        dud.random_split(range(10), [0.5, 0.2])
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        dud.random_split(range(10), [5, 5], generator=torch.Generator())


def test_subset_indexes_like_torch():
    data = list(range(10, 20))
    d, t = dud.Subset(data, [4, 0, 7]), tud.Subset(data, [4, 0, 7])
    assert len(d) == len(t) == 3 and [d[i] for i in range(3)] == [t[i] for i in range(3)] == [14, 10, 17]
    with pytest.raises(TypeError, match="Subset indices must be a 1-D sequence of integers"):
        dud.Subset(data, [0.5, 1.5])


def test_samplers_match_torch():
    data = list(range(10))
    assert list(dud.SequentialSampler(data)) == list(tud.SequentialSampler(data))
    for bs in (3, 5, 11):
        for drop in (False, True):
            d = dud.BatchSampler(dud.SequentialSampler(data), bs, drop)
            t = tud.BatchSampler(tud.SequentialSampler(data), bs, drop)
            assert list(d) == list(t) and len(d) == len(t)
            assert list(dud.BatchSampler([5, 1, 2, 9], bs, drop)) == list(tud.BatchSampler([5, 1, 2, 9], bs, drop))
    gen = np.random.default_rng(0)
    perm = list(dud.RandomSampler(data, generator=gen))
    assert sorted(perm) == data and perm != data
    over = list(dud.RandomSampler(data, num_samples=25, generator=gen))
    assert len(over) == 25 and sorted(over[:20]) == sorted(data * 2) and len(set(over[20:])) == 5
    drawn = list(dud.RandomSampler(data, replacement=True, num_samples=1000, generator=gen))
    assert len(drawn) == 1000 and set(drawn) == set(data)
    sub = list(dud.SubsetRandomSampler([3, 8, 5], generator=gen))
    assert sorted(sub) == [3, 5, 8]
    weighted = list(dud.WeightedRandomSampler([0.0, 1.0, 3.0], 4000, generator=gen))
    assert 0 not in weighted and abs(weighted.count(2) / 4000 - 0.75) < 0.03


def test_sampler_and_batch_sampler_arguments_like_torch():
    data = list(range(10))
    for kw in [dict(sampler=[3, 1, 4, 1, 5], batch_size=2), dict(batch_sampler=[[0, 9], [2], [5, 5, 5]]),
               dict(sampler=dud.SequentialSampler(data), batch_size=3, drop_last=True)]:
        tkw = dict(kw, sampler=tud.SequentialSampler(data)) if isinstance(kw.get("sampler"), dud.Sampler) else kw
        for db, tb in _pairs(dud.DataLoader(data, **kw), tud.DataLoader(data, **tkw)):
            assert_same_batch(db, tb)
    x = descend.arange(10)   # an array data set with a custom batch sampler stays vectorised and exact
    batches = [b.array.tolist() for (b,) in dud.DataLoader(dud.TensorDataset(x), batch_sampler=[[0, 9], [2]])]
    assert batches == [[0, 9], [2]]


def test_custom_collate_fn_receives_the_list_of_samples():
    seen = []

    def collate(samples):
        seen.append(samples)
        return len(samples)

    x = np.arange(10.0)
    assert list(dud.DataLoader(dud.TensorDataset(x), batch_size=4, collate_fn=collate)) == [4, 4, 2]
    assert isinstance(seen[0], list) and isinstance(seen[0][0], tuple) and float(seen[0][1][0].array) == 1.0
    torch_seen = []
    list(tud.DataLoader(tud.TensorDataset(torch.tensor(x)), batch_size=4,
                        collate_fn=lambda s: torch_seen.append(s)))
    assert [len(s) for s in seen] == [len(s) for s in torch_seen]


def test_batch_size_none_yields_converted_samples_like_torch():
    ds_d = dud.TensorDataset(descend.tensor(np.arange(6.0).reshape(3, 2)))
    ds_t = tud.TensorDataset(torch.tensor(np.arange(6.0, dtype=np.float32).reshape(3, 2)))
    for db, tb in _pairs(dud.DataLoader(ds_d, batch_size=None), tud.DataLoader(ds_t, batch_size=None)):
        assert_same_batch(db, tb)


class DescendStream(dud.IterableDataset):
    def __init__(self, n, with_len=True):
        self.n, self.with_len = n, with_len

    def __iter__(self):
        return iter([(np.float32(i), i) for i in range(self.n)])

    def __len__(self):
        if not self.with_len:
            raise TypeError("no length")
        return self.n


class TorchStream(tud.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter([(np.float32(i), i) for i in range(self.n)])

    def __len__(self):
        return self.n


@pytest.mark.parametrize("drop_last", [False, True])
def test_iterable_dataset_batches_like_torch(drop_last):
    d = dud.DataLoader(DescendStream(10), batch_size=4, drop_last=drop_last)
    t = tud.DataLoader(TorchStream(10), batch_size=4, drop_last=drop_last)
    for db, tb in _pairs(d, t):
        assert_same_batch(db, tb)
    with pytest.raises(ValueError, match="IterableDataset takes no shuffle"):
        dud.DataLoader(DescendStream(3), shuffle=True)
    with pytest.raises(TypeError):
        len(dud.DataLoader(DescendStream(3, with_len=False)))
    assert len(list(dud.DataLoader(DescendStream(5, with_len=False), batch_size=2))) == 3


def test_num_workers_runs_in_process_with_the_same_batches():
    ds = dud.TensorDataset(np.arange(20.0))
    calls = []
    many = dud.DataLoader(ds, batch_size=6, shuffle=True, seed=1, num_workers=4, worker_init_fn=calls.append,
                          pin_memory=True, timeout=5, prefetch_factor=2, persistent_workers=True)
    one = dud.DataLoader(ds, batch_size=6, shuffle=True, seed=1)
    for (a,), (b,) in zip(many, one):
        np.testing.assert_array_equal(a.array, b.array)
    assert calls == [] and dud.get_worker_info() is None


def test_bad_loader_arguments_raise_like_torch():
    data = list(range(5))
    cases = [(dict(sampler=[0], shuffle=True), ValueError, "mutually exclusive with shuffle"),
             (dict(batch_sampler=[[0]], batch_size=2), ValueError, "batch_sampler option is mutually exclusive"),
             (dict(batch_size=None, drop_last=True), ValueError, "mutually exclusive with drop_last"),
             (dict(num_workers=-1), ValueError, "num_workers must be a non-negative integer"),
             (dict(timeout=-1), ValueError, "timeout must be a non-negative"),
             (dict(prefetch_factor=2), ValueError, "prefetch_factor"),
             (dict(persistent_workers=True), ValueError, "persistent_workers option needs num_workers > 0"),
             (dict(generator=torch.Generator()), TypeError, "numpy.random.Generator"),
             (dict(generator=np.random.default_rng(0), seed=1), ValueError, "not both"),
             (dict(collate_fn=3), TypeError, "collate_fn must be callable"),
             (dict(sampler=False), TypeError, "sampler must be an iterable of indices"),
             (dict(batch_sampler=3), TypeError, "batch_sampler must be an iterable")]
    for kw, exc, message in cases:
        with pytest.raises(exc, match=message):
            dud.DataLoader(data, **kw)
    with pytest.raises(TypeError, match="map-style data set"):
        dud.DataLoader(42)


def test_state_dict_resumes_a_generic_data_set_mid_epoch():
    original = dud.DataLoader(DescendSamples(), batch_size=2, shuffle=True, seed=5)
    it = iter(original)
    [next(it) for _ in range(2)]
    state = original.state_dict()
    rest = [b["label"].array.tolist() for b in it]
    resumed = dud.DataLoader(DescendSamples(), batch_size=2, shuffle=True, seed=0)
    resumed.load_state_dict(state)
    assert [b["label"].array.tolist() for b in resumed] == rest and len(rest) == len(original) - 2


def test_shuffled_epoch_over_a_random_split_of_60000x784_stays_vectorised():
    """The fast path survives Subset/random_split: one fancy index per batch (measured ~40 ms here)."""
    rng = np.random.default_rng(0)
    ds = dud.TensorDataset(rng.random((60000, 784), dtype=np.float32), rng.integers(0, 10, 60000))
    train, _ = dud.random_split(ds, [0.9, 0.1], generator=np.random.default_rng(0))
    loader = dud.DataLoader(train, batch_size=128, shuffle=True, seed=0)
    best = np.inf
    for _ in range(3):
        t = time.perf_counter()
        n = sum(len(yb) for _, yb in loader)
        best = min(best, time.perf_counter() - t)
    assert n == 54000
    assert best < 0.6, f"a shuffled epoch took {best:.3f} s"


def test_pytorch_training_program_runs_with_import_descend_as_torch():
    import descend as torch_like
    from descend.utils.data import DataLoader, TensorDataset

    torch_like.manual_seed(0)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((256, 4)).astype(np.float32)
    Y = (X @ np.array([1.0, -2.0, 0.5, 3.0], np.float32))[:, None]
    loader = DataLoader(TensorDataset(torch_like.tensor(X), torch_like.tensor(Y)), batch_size=32, shuffle=True)
    model = torch_like.nn.Linear(4, 1)
    opt = torch_like.optim.SGD(model.parameters(), lr=0.05)
    loss_fn = torch_like.nn.MSELoss()
    losses = []
    for _ in range(15):
        total = 0.0
        for xb, yb in loader:
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            total += float(loss.array) * len(xb)
        losses.append(total / len(loader.dataset))
    assert losses[-1] < 1e-3 * losses[0]


def test_trainer_on_a_tensor_dataset_loader_matches_trainer_on_arrays():
    """Same seed, same shuffling stream: a caller's DataLoader(TensorDataset) trains bit-identically."""
    from descend import nn, optim

    rng = np.random.default_rng(3)
    x = rng.standard_normal((90, 5)).astype(np.float32)
    y = rng.integers(0, 3, 90)

    def fit(data):
        trainer = descend.Trainer(lambda: nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 3)),
                                  nn.CrossEntropyLoss(), lambda p: optim.SGD(p, lr=0.1), seed=7, batch_size=16)
        history = trainer.fit(data, epochs=3)
        return trainer.model.state_dict(), history

    sd_arrays, h_arrays = fit((x, y))
    sd_loader, h_loader = fit(dud.DataLoader(dud.TensorDataset(x, y), batch_size=16, shuffle=True))
    assert h_arrays["loss"] == h_loader["loss"]
    for k in sd_arrays:
        assert np.array_equal(sd_arrays[k], sd_loader[k]), k
