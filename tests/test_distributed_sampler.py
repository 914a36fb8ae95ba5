"""DistributedSampler against torch.utils.data.DistributedSampler: sizes, padding, disjoint shards, epochs."""

import numpy as np
import pytest
import torch.utils.data as tud

from descend.data import DistributedSampler

CASES = [(n, r, drop, shuffle) for n in (1, 7, 10, 12, 13) for r in (1, 2, 3, 5) for drop in (False, True)
         for shuffle in (False, True) if not (drop and n < r)]


@pytest.mark.parametrize("n,replicas,drop_last,shuffle", CASES)
def test_distributed_sampler_partitions_like_torch(n, replicas, drop_last, shuffle):
    ours = [list(DistributedSampler(range(n), replicas, r, shuffle=shuffle, seed=3, drop_last=drop_last))
            for r in range(replicas)]
    theirs = [list(tud.DistributedSampler(range(n), replicas, r, shuffle=shuffle, seed=3, drop_last=drop_last))
              for r in range(replicas)]
    assert [len(s) for s in ours] == [len(s) for s in theirs]
    assert len(DistributedSampler(range(n), replicas, 0, drop_last=drop_last)) == len(theirs[0])
    flat = np.concatenate(ours)
    counts = np.bincount(flat, minlength=n)
    torch_counts = np.bincount(np.concatenate(theirs), minlength=n)
    assert sorted(counts) == sorted(torch_counts)   # the same multiset of multiplicities (padding / dropping)
    if not drop_last:
        assert (counts >= 1).all()                  # every index is visited
    if not shuffle:
        assert ours == theirs                       # the deterministic order is torch's exactly


def test_distributed_sampler_shards_are_disjoint_without_padding():
    shards = [set(DistributedSampler(range(12), 3, r, seed=5)) for r in range(3)]
    assert set.union(*shards) == set(range(12)) and sum(map(len, shards)) == 12


def test_set_epoch_changes_the_permutation_and_is_the_same_on_every_rank():
    a, b = DistributedSampler(range(20), 2, 0, seed=1), DistributedSampler(range(20), 2, 0, seed=1)
    first = list(a)
    assert first == list(b)
    a.set_epoch(1)
    assert list(a) != first
    b.set_epoch(1)
    assert list(a) == list(b)
    other = DistributedSampler(range(20), 2, 1, seed=1)
    other.set_epoch(1)
    assert set(other).isdisjoint(a) and sorted(set(other) | set(a)) == list(range(20))


def test_distributed_sampler_arguments_are_checked():
    with pytest.raises(ValueError, match="Invalid rank 2"):
        DistributedSampler(range(4), 2, 2)
    with pytest.raises(ValueError, match="num_replicas"):
        DistributedSampler(range(4), 0, 0)
    with pytest.raises(RuntimeError, match="init_process_group"):
        DistributedSampler(range(4))
    with pytest.raises(TypeError, match="epoch"):
        DistributedSampler(range(4), 2, 0).set_epoch(1.5)
