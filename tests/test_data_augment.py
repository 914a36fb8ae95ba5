"""Augmentations: each effect checked exactly against a per-sample reference, plus seeding and the builder."""

import numpy as np
import pytest

from descend.data import (Compose, Cutout, GaussianNoise, RandomCrop, RandomHorizontalFlip, RandomShift,
                          build_augmentation)
from descend.tensor import Tensor


def _batch(n=64, c=2, h=9, w=7, seed=0):
    return np.random.default_rng(seed).random((n, c, h, w), dtype=np.float32)


def test_flip_reverses_columns_of_exactly_the_chosen_samples():
    x = _batch()
    flip = RandomHorizontalFlip(p=0.5)
    params = flip.sample(len(x), x.shape, np.random.default_rng(1))
    out = flip(x, np.random.default_rng(1))
    chosen = params["flip"]
    assert 10 < chosen.sum() < 54
    np.testing.assert_array_equal(out[chosen], x[chosen][:, :, :, ::-1])
    np.testing.assert_array_equal(out[~chosen], x[~chosen])
    np.testing.assert_array_equal(RandomHorizontalFlip(p=1.0)(x, np.random.default_rng(0)), x[..., ::-1])
    np.testing.assert_array_equal(RandomHorizontalFlip(p=0.0)(x, np.random.default_rng(0)), x)


@pytest.mark.parametrize("size,padding", [(None, 2), ((5, 4), 0), (6, 3)])
def test_crop_with_padding_equals_manual_crop_at_the_drawn_offsets(size, padding):
    x = _batch()
    crop = RandomCrop(size, padding=padding)
    params = crop.sample(len(x), x.shape, np.random.default_rng(2))
    out = crop(x, np.random.default_rng(2))
    h, w = (x.shape[2], x.shape[3]) if size is None else ((size, size) if isinstance(size, int) else size)
    assert out.shape == (64, 2, h, w)
    for i in range(len(x)):  # reference: pad one image by hand, cut the window
        padded = np.zeros((2, x.shape[2] + 2 * padding, x.shape[3] + 2 * padding), np.float32)
        padded[:, padding:padding + x.shape[2], padding:padding + x.shape[3]] = x[i]
        t, l = params["top"][i], params["left"][i]
        np.testing.assert_array_equal(out[i], padded[:, t:t + h, l:l + w])
    assert len(set(zip(params["top"], params["left"]))) > 5  # offsets vary over the batch


def test_shift_moves_content_by_the_drawn_offsets_with_zero_fill():
    x = _batch(n=40)
    shift = RandomShift(max_shift=2)
    params = shift.sample(len(x), x.shape, np.random.default_rng(3))
    out = shift(x, np.random.default_rng(3))
    assert out.shape == x.shape and params["dy"].min() >= -2 and params["dy"].max() <= 2
    for i in range(len(x)):
        dy, dx = params["dy"][i], params["dx"][i]
        expected = np.zeros_like(x[i])
        H, W = x.shape[2:]
        expected[:, max(dy, 0):H + min(dy, 0), max(dx, 0):W + min(dx, 0)] = \
            x[i][:, max(-dy, 0):H - max(dy, 0), max(-dx, 0):W - max(dx, 0)]
        np.testing.assert_array_equal(out[i], expected)


def test_gaussian_noise_has_the_requested_std_and_zero_mean():
    x = np.full((256, 1, 28, 28), 0.5, np.float32)
    out = GaussianNoise(std=0.2)(x, np.random.default_rng(4))
    noise = out - x
    assert out.dtype == np.float32
    assert abs(noise.std() - 0.2) < 0.002 and abs(noise.mean()) < 0.002  # 200k draws: SE ≈ 0.0004


def test_cutout_zeroes_exactly_the_box():
    x = _batch(n=50, h=10, w=10) + 1.0  # no zeros before cutout
    cut = Cutout(size=4)
    params = cut.sample(len(x), x.shape, np.random.default_rng(5))
    out = cut(x, np.random.default_rng(5))
    for i in range(len(x)):
        cy, cx = params["cy"][i], params["cx"][i]
        expected = x[i].copy()
        expected[:, max(cy - 2, 0):max(cy + 2, 0), max(cx - 2, 0):max(cx + 2, 0)] = 0
        np.testing.assert_array_equal(out[i], expected)
    inner = (params["cy"] >= 2) & (params["cy"] <= 8) & (params["cx"] >= 2) & (params["cx"] <= 8)
    np.testing.assert_array_equal((out[inner] == 0).reshape(inner.sum(), -1).sum(1), 2 * 16)  # 2 channels


def test_same_generator_state_same_output_and_different_seeds_differ():
    x = _batch()
    pipe = Compose([RandomCrop(padding=2), RandomHorizontalFlip(), RandomShift(1), GaussianNoise(0.1), Cutout(3)])
    a = pipe(x, np.random.default_rng(9))
    b = pipe(x, np.random.default_rng(9))
    c = pipe(x, np.random.default_rng(10))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.shape == x.shape and a.dtype == np.float32
    np.testing.assert_array_equal(x, _batch())  # the input is never modified


def test_tensor_in_tensor_out():
    x = _batch(n=4)
    out = RandomCrop(padding=1)(Tensor.from_array(x), np.random.default_rng(0))
    assert isinstance(out, Tensor) and out.shape == x.shape


def test_builder_reads_names_dicts_and_numbers():
    pipe = build_augmentation(["crop", {"name": "noise", "std": 0.3}, {"cutout": {"size": 2}}])
    assert [type(t) for t in pipe.transforms] == [RandomCrop, GaussianNoise, Cutout]
    assert pipe.transforms[1].std == 0.3 and pipe.transforms[2].size == (2, 2)
    pipe = build_augmentation({"shift": 3, "flip": False, "hflip": {"p": 0.25}})
    assert [type(t) for t in pipe.transforms] == [RandomShift, RandomHorizontalFlip]
    assert pipe.transforms[0].max_shift == 3 and pipe.transforms[1].p == 0.25
    assert len(build_augmentation("crop, shift")) == 2
    assert build_augmentation([]) is None and build_augmentation(None) is None
    rebuilt = build_augmentation(pipe.config())
    x = _batch()
    np.testing.assert_array_equal(rebuilt(x, np.random.default_rng(1)), pipe(x, np.random.default_rng(1)))


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match=r"unknown augmentation 'rotate'; choose from \['crop', 'cutout', 'flip'"):
        build_augmentation(["rotate"])
    with pytest.raises(ValueError, match=r"p must be a probability in \[0, 1\], got 1.5"):
        RandomHorizontalFlip(1.5)
    with pytest.raises(ValueError, match="padding must be a non-negative integer, got -1"):
        RandomCrop(padding=-1)
    with pytest.raises(ValueError, match="std must be a non-negative number"):
        GaussianNoise(-0.1)
    with pytest.raises(ValueError, match=r"RandomCrop size \(20, 20\) is larger than the padded image \(13, 11\)"):
        RandomCrop(20)(_batch(), np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"expects a batch of images shaped \(N, C, H, W\), got shape \(5, 64\)"):
        Cutout(2)(np.zeros((5, 64), np.float32))
    with pytest.raises(ValueError, match="bad arguments"):
        build_augmentation([{"name": "crop", "pading": 2}])
