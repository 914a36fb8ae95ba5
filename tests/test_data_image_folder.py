"""Image folders: torchvision's ImageFolder semantics, the decoded + cached folder, sizes, bad files, parts."""

import os
import time
import warnings

import numpy as np
import pytest
from PIL import Image

from descend.app import run_training
from descend.data import ImageFolder, image_to_array, load_dataset, load_image_folder
from descend.data import image_folder as imf

CLASSES = ("cat", "dog", "fox")


def _pattern(k, rng, size=(8, 8)):
    """Class k: a bright band in rows 3k..3k+2 (8x8) on noise, RGB uint8."""
    img = rng.integers(0, 60, (*size, 3), dtype=np.uint8)
    img[2 * k: 2 * k + 3, :, k] = 250
    return img


def make_folder(root, per_class=20, seed=0, size=(8, 8), gray=False):
    rng = np.random.default_rng(seed)
    for k, name in enumerate(CLASSES):
        os.makedirs(root / name, exist_ok=True)
        for i in range(per_class):
            arr = _pattern(k, rng, size)
            img = Image.fromarray(arr[:, :, k] if gray else arr)
            ext = "png" if i % 2 == 0 else "jpg"
            img.save(root / name / f"{i:03d}.{ext}", quality=95)
    return root


def decoded(root):
    """The folder's images decoded with Pillow directly, in torchvision's order: (x uint8 NCHW, y)."""
    xs, ys = [], []
    for k, name in enumerate(CLASSES):
        for f in sorted(os.listdir(root / name)):
            xs.append(np.asarray(Image.open(root / name / f).convert("RGB")).transpose(2, 0, 1))
            ys.append(k)
    return np.stack(xs), np.array(ys)


def test_image_folder_has_torchvision_classes_samples_and_items(tmp_path):
    root = make_folder(tmp_path / "photos", per_class=4)
    (tmp_path / "photos" / "cat" / "notes.txt").write_text("not an image")   # other endings are ignored
    ds = ImageFolder(root, transform=image_to_array, target_transform=lambda t: t * 10)
    assert ds.classes == list(CLASSES) and ds.class_to_idx == {"cat": 0, "dog": 1, "fox": 2}
    assert len(ds) == 12 and ds.targets == [0] * 4 + [1] * 4 + [2] * 4
    assert ds.samples[0] == (os.path.join(str(root), "cat", "000.png"), 0)
    x, t = ds[5]
    want = np.asarray(Image.open(ds.samples[5][0]).convert("RGB"), np.float32).transpose(2, 0, 1) / 255
    assert t == 10 and x.shape == (3, 8, 8) and x.dtype == np.float32
    np.testing.assert_allclose(x, want, atol=1e-7)
    img, _ = ImageFolder(root)[0]
    assert isinstance(img, Image.Image) and img.mode == "RGB"


def test_image_folder_reaches_the_accuracy_of_the_same_images_as_npz(tmp_path):
    root = make_folder(tmp_path / "photos", per_class=30)
    x, y = decoded(root)
    np.savez(tmp_path / "same.npz", x_train=x.astype(np.float32) * np.float32(1 / 255), y_train=y)
    common = {"model": {"preset": "mlp", "hidden": [32]}, "train": {"epochs": 8}, "seed": 3,
              "optimizer": {"lr": 0.01}, "diagnose": {"monitor": False, "guard": False}}
    a = run_training({**common, "data": {"path": str(root), "cache_dir": str(tmp_path / "cache"),
                                         "batch_size": 16}}, out=tmp_path / "a", progress=False)
    b = run_training({**common, "data": {"path": str(tmp_path / "same.npz"), "batch_size": 16}},
                     out=tmp_path / "b", progress=False)
    assert a.summary["test_accuracy"] == b.summary["test_accuracy"] >= 0.9
    assert a.summary["val_loss"] == pytest.approx(b.summary["val_loss"], rel=1e-6)


def test_decoded_folder_is_cached_and_invalidated_when_a_file_changes(tmp_path, monkeypatch):
    root = make_folder(tmp_path / "photos", per_class=3)
    cache = tmp_path / "cache"
    first = load_image_folder(root, cache_dir=cache, val_fraction=0, test_fraction=0)
    assert first.x_train.shape == (9, 3, 8, 8) and first.class_names == list(CLASSES)
    x, _ = decoded(root)
    np.testing.assert_array_equal(first.x_train, x.astype(np.float32) * np.float32(1 / 255))
    assert sorted(p.suffix for p in cache.iterdir()) == [".json", ".npy"]

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again although the cache is valid")

    monkeypatch.setattr(imf, "decode_image", no_decoding)
    second = load_image_folder(root, cache_dir=cache, val_fraction=0, test_fraction=0)
    np.testing.assert_array_equal(second.x_train, first.x_train)
    monkeypatch.undo()

    time.sleep(0.01)
    Image.fromarray(np.full((8, 8, 3), 7, np.uint8)).save(root / "dog" / "000.png")   # edit one file
    calls = []
    real = imf.decode_image
    monkeypatch.setattr(imf, "decode_image", lambda *a: calls.append(a) or real(*a))
    third = load_image_folder(root, cache_dir=cache, val_fraction=0, test_fraction=0)
    assert len(calls) == 9 and np.all(third.x_train[3] == np.float32(7) * np.float32(1 / 255))
    assert len(list(cache.iterdir())) == 2   # the stale cache of this folder was removed


def test_mixed_sizes_error_names_two_files_and_image_size_resizes(tmp_path):
    root = make_folder(tmp_path / "photos", per_class=3)
    Image.fromarray(np.zeros((5, 6, 3), np.uint8)).save(root / "fox" / "odd.png")
    with pytest.raises(ValueError, match=r"cat.000\.png is 8x8 \(H x W\) but .*fox.odd\.png is 5x6; set "
                                         r"data\.image_size = \[8, 8\]"):
        load_image_folder(root, cache_dir=tmp_path / "c", val_fraction=0, test_fraction=0)
    s = load_image_folder(root, image_size=[4, 6], cache_dir=tmp_path / "c", val_fraction=0, test_fraction=0)
    assert s.x_train.shape == (10, 3, 4, 6)
    want = np.asarray(Image.open(root / "cat" / "000.png").resize((6, 4), Image.BILINEAR), np.float32) / 255
    np.testing.assert_allclose(s.x_train[0], want.transpose(2, 0, 1), atol=1e-6)


def test_grayscale_folder_gives_one_channel_and_bmp_gif_decode(tmp_path):
    root = make_folder(tmp_path / "g", per_class=2, gray=True)
    Image.fromarray(np.full((8, 8), 100, np.uint8)).save(root / "cat" / "x.bmp")
    Image.fromarray(np.full((8, 8), 200, np.uint8)).save(root / "dog" / "y.gif")
    s = load_image_folder(root, cache_dir=tmp_path / "c", val_fraction=0, test_fraction=0)
    assert s.x_train.shape == (8, 1, 8, 8)
    assert np.all(s.x_train[2] == np.float32(100) * np.float32(1 / 255))      # cat: 000.png, 001.jpg, x.bmp
    assert np.allclose(s.x_train[5], 200 / 255, atol=2 / 255)


def test_corrupt_file_is_a_one_line_error_or_skipped_with_a_count(tmp_path):
    root = make_folder(tmp_path / "photos", per_class=3)
    (root / "dog" / "broken.png").write_bytes(b"\x89PNG not really")
    (root / "fox" / "readme.txt").write_text("hello")
    with pytest.raises(ValueError, match=r"broken\.png: not a readable image") as err:
        load_image_folder(root, cache_dir=tmp_path / "c")
    assert "\n" not in str(err.value) and "skip_bad_files" in str(err.value)
    with pytest.warns(UserWarning, match=r"skipped 2 unreadable file"):
        s = load_image_folder(root, skip_bad_files=True, cache_dir=tmp_path / "c", val_fraction=0,
                              test_fraction=0)
    assert len(s.x_train) == 9 and len(s.extra["skipped_files"]) == 2


def test_train_val_test_subfolders_are_respected(tmp_path):
    for part, n in (("train", 6), ("val", 2), ("test", 3)):
        make_folder(tmp_path / "photos" / part, per_class=n, seed=len(part))
    s = load_dataset(str(tmp_path / "photos"), cache_dir=str(tmp_path / "c"))
    assert (len(s.x_train), len(s.x_val), len(s.x_test)) == (18, 6, 9)
    assert s.class_names == list(CLASSES) and s.extra["split_folders"] is True
    np.testing.assert_array_equal(s.y_test, np.repeat([0, 1, 2], 3))
    x_test, _ = decoded(tmp_path / "photos" / "test")
    np.testing.assert_array_equal(s.x_test, x_test.astype(np.float32) * np.float32(1 / 255))


def test_image_size_config_key_is_checked(tmp_path):
    from descend.app.config import ConfigError, check_config

    with pytest.raises(ConfigError, match=r"data.image_size = \[4\] must be \[H, W\]"):
        check_config({"data": {"image_size": [4]}})
    with pytest.raises(ValueError, match="image_size must be"):
        load_image_folder(make_folder(tmp_path / "p", per_class=1), image_size=[0, 3], cache_dir=tmp_path)
