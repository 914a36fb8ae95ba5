"""Folders of image files whose subfolders are the classes (``photos/cat/*.jpg``, ``photos/dog/*.png``).

Two ways in:

* :class:`ImageFolder` — torchvision's data set of the same name and semantics: ``classes`` (sorted
  subfolder names), ``class_to_idx``, ``samples`` (``(path, class_index)`` sorted by class, then path),
  ``targets``; ``ds[i]`` is ``(image, class_index)`` with the image a Pillow ``Image`` in RGB (what
  torchvision's default loader gives) after ``transform``. :func:`image_to_array` is torchvision's
  ``ToTensor`` as an array: ``(C, H, W)`` float32 in [0, 1].
* :func:`load_image_folder` — the whole folder decoded once into one ``(N, C, H, W)`` uint8 array, cached as a
  memory-mapped ``.npy`` in the user cache folder (``~/.cache/descend/image-folders``), keyed by every file's
  path, size and modification time (and the decoding options): a second run reads the cache instead of
  decoding, and adding, removing or touching a file makes a new key (the stale cache of the same folder is
  deleted). Returns :class:`~descend.data.DataSplits` scaled to [0, 1]. This is ``data.path = "photos/"``.

Pillow decodes PNG, JPEG, BMP and GIF (the first frame). Grayscale images (modes 1, L, LA, I, I;16, F) give one
channel; when any image of the folder has colour, every image is converted to RGB (three channels; palette
images with a gray palette count as grayscale). All images must share one size unless ``image_size=[H, W]`` resizes them (bilinear).
A folder holding ``train/`` (and optionally ``val/``, ``test/``) subfolders, each with the class subfolders, keeps
those parts; missing parts are split off ``train/`` as for every source.
"""

from __future__ import annotations

import collections
import hashlib
import json
import os
import warnings

import numpy as np

__all__ = ["IMG_EXTENSIONS", "ImageFolder", "find_classes", "make_dataset", "pil_loader", "image_to_array",
           "decode_image", "load_image_folder", "default_cache_dir", "PARTS"]

#: File endings read as images (lower case); torchvision's list restricted to what the loader here handles.
IMG_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
#: Subfolder names that mark a folder already split into parts.
PARTS = ("train", "val", "test")
GRAY_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F")
CACHE_VERSION = 1


def _pil():
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow ships with matplotlib
        raise ImportError("image folders need Pillow: pip install pillow") from None
    return Image


# ----------------------------------------------------------------------------- torchvision's ImageFolder
def find_classes(root) -> tuple[list[str], dict[str, int]]:
    """``(classes, class_to_idx)``: the sorted names of ``root``'s subfolders and their indices."""
    root = os.fspath(root)
    if not os.path.isdir(root):
        raise FileNotFoundError(f"image folder not found: {root!r}")
    classes = sorted(e.name for e in os.scandir(root) if e.is_dir() and not e.name.startswith("."))
    if not classes:
        raise FileNotFoundError(f"{root!r} has no class subfolders; put the images of each class in their own "
                                f"folder ({root}/<class>/<image>.png)")
    return classes, {c: i for i, c in enumerate(classes)}


def make_dataset(root, class_to_idx, extensions=IMG_EXTENSIONS, is_valid_file=None) -> list[tuple[str, int]]:
    """``[(path, class_index), ...]``: the files under each class folder (walked recursively) whose name ends
    with one of ``extensions`` (or for which ``is_valid_file(path)`` is true), sorted by class, then path."""
    if (extensions is None) == (is_valid_file is None):
        raise ValueError("give exactly one of extensions= or is_valid_file=")
    if is_valid_file is None:
        ends = tuple(e.lower() for e in extensions)
        is_valid_file = lambda p: p.lower().endswith(ends)  # noqa: E731
    samples = []
    for name in sorted(class_to_idx, key=class_to_idx.get):
        folder = os.path.join(os.fspath(root), name)
        found = [os.path.join(d, f) for d, _, files in sorted(os.walk(folder, followlinks=True)) for f in files]
        picked = sorted(p for p in found if is_valid_file(p))
        if not picked:
            raise FileNotFoundError(f"class folder {folder!r} holds no image files ({', '.join(IMG_EXTENSIONS)})")
        samples.extend((p, class_to_idx[name]) for p in picked)
    return samples


def pil_loader(path):
    """The image at ``path`` as a Pillow ``Image`` in RGB (torchvision's default loader)."""
    with open(path, "rb") as fh:
        img = _pil().open(fh)
        return img.convert("RGB")


def image_to_array(image) -> np.ndarray:
    """A Pillow image (or an ``(H, W[, C])`` uint8 array) as torchvision's ``ToTensor`` gives it:
    ``(C, H, W)`` float32, ``x / 255`` for 8-bit data."""
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3:
        raise ValueError(f"image_to_array expects an (H, W) or (H, W, C) image, got shape {arr.shape}")
    out = arr.transpose(2, 0, 1)
    scale = np.float32(1 / 255) if arr.dtype == np.uint8 else np.float32(1)
    return np.ascontiguousarray(out, dtype=np.float32) * scale


class ImageFolder:
    """``ImageFolder(root, transform=None, target_transform=None, loader=pil_loader, is_valid_file=None)``:
    the images under ``root/<class>/``, torchvision's semantics.

    ``classes``, ``class_to_idx``, ``samples`` (= ``imgs``), ``targets``; ``ds[i]`` gives
    ``(transform(loader(path)), target_transform(class_index))``. Give ``transform=image_to_array`` for
    ``(C, H, W)`` float32 arrays the :class:`~descend.data.DataLoader` batches.
    """

    def __init__(self, root, transform=None, target_transform=None, loader=pil_loader, is_valid_file=None):
        for name, fn in (("transform", transform), ("target_transform", target_transform), ("loader", loader)):
            if fn is not None and not callable(fn):
                raise TypeError(f"{name} must be callable or None, got {type(fn).__name__}")
        self.root = os.fspath(root)
        self.transform, self.target_transform, self.loader = transform, target_transform, loader
        self.classes, self.class_to_idx = find_classes(self.root)
        self.samples = make_dataset(self.root, self.class_to_idx,
                                    None if is_valid_file is not None else IMG_EXTENSIONS, is_valid_file)
        self.imgs = self.samples
        self.targets = [t for _, t in self.samples]

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index):
        path, target = self.samples[index]
        image = self.loader(path)
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target

    def __repr__(self) -> str:
        return f"ImageFolder(root={self.root!r}, {len(self)} images, {len(self.classes)} classes)"


# ----------------------------------------------------------------------------- the decoded, cached folder
def default_cache_dir() -> str:
    """The user cache folder for decoded image folders: ``~/.cache/descend/image-folders``."""
    return os.path.join(os.path.expanduser("~"), ".cache", "descend", "image-folders")


def decode_image(path, channels: int, size) -> np.ndarray:
    """One image as ``(channels, H, W)`` uint8, resized to ``size = (H, W)`` (bilinear) when it differs."""
    Image = _pil()
    with Image.open(path) as img:
        img.load()
        if channels == 1:
            if img.mode.startswith("I;16"):
                img = Image.fromarray((np.asarray(img).astype(np.uint32) >> 8).astype(np.uint8))
            img = img if img.mode == "L" else img.convert("L")
        else:
            img = img if img.mode == "RGB" else img.convert("RGB")
        if size is not None and img.size != (size[1], size[0]):
            img = img.resize((int(size[1]), int(size[0])), Image.BILINEAR)
        arr = np.asarray(img, dtype=np.uint8)
    return arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)


def _bad(path, exc) -> ValueError:
    return ValueError(f"{path}: not a readable image ({type(exc).__name__}: {exc}); remove the file or set "
                      f"data.skip_bad_files = true (skip_bad_files=True) to skip it")


def _listing(root):
    """(parts, classes, [(relative path, part, class name)], split_layout): every non-hidden file."""
    subdirs = sorted(e.name for e in os.scandir(root) if e.is_dir() and not e.name.startswith("."))
    split = "train" in subdirs and set(subdirs) <= set(PARTS)
    parts = [p for p in PARTS if p in subdirs] if split else [""]
    classes, _ = find_classes(os.path.join(root, "train") if split else root)
    files = []
    for part in parts:
        base = os.path.join(root, part) if part else root
        part_classes, _ = find_classes(base)
        unknown = sorted(set(part_classes) - set(classes))
        if unknown:
            raise ValueError(f"{base!r} has class folders {unknown} that train/ lacks; every part needs the "
                             f"classes of train/ ({classes})")
        for name in part_classes:
            for d, dirs, names in sorted(os.walk(os.path.join(base, name), followlinks=True)):
                dirs[:] = [x for x in dirs if not x.startswith(".")]
                for f in sorted(names):
                    if not f.startswith(".") and f != "Thumbs.db":
                        files.append((os.path.relpath(os.path.join(d, f), root), part or "train", name))
    return classes, sorted(files, key=lambda t: (PARTS.index(t[1]), classes.index(t[2]), t[0])), split


def _cache_key(root, files, image_size, skip_bad_files) -> tuple[str, str]:
    """(folder key, content key): the folder's absolute path, and every file's path + size + mtime."""
    folder = hashlib.sha256(os.path.abspath(root).encode()).hexdigest()[:16]
    h = hashlib.sha256(json.dumps([CACHE_VERSION, image_size, bool(skip_bad_files)]).encode())
    for rel, _, _ in files:
        st = os.stat(os.path.join(root, rel))
        h.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return folder, h.hexdigest()[:24]


def _gray_palette(img) -> bool:
    """Whether a palette image's palette holds only grays (a grayscale GIF)."""
    pal = np.asarray(img.getpalette() or [], np.int32)
    pal = pal[: len(pal) // 3 * 3].reshape(-1, 3)
    return bool(len(pal)) and bool((pal == pal[:, :1]).all())


def _headers(root, files, skip):
    """Pillow's header of every file: (kept files, [(w, h)], [mode]); unreadable ones raise or are dropped."""
    Image = _pil()
    kept, sizes, modes, bad = [], [], [], []
    for item in files:
        path = os.path.join(root, item[0])
        try:
            if not path.lower().endswith(IMG_EXTENSIONS):
                raise ValueError(f"not an image file name (expected {', '.join(IMG_EXTENSIONS)})")
            with Image.open(path) as img:
                sizes.append(img.size)
                modes.append("L" if img.mode == "P" and _gray_palette(img) else img.mode)
            kept.append(item)
        except Exception as exc:  # noqa: BLE001 - any failure to read a file is reported with its name
            if not skip:
                raise _bad(path, exc) from None
            bad.append(path)
    return kept, sizes, modes, bad


def _target_size(root, kept, sizes, image_size):
    if image_size is not None:
        return tuple(int(v) for v in image_size)
    counts = collections.Counter(sizes)
    (common, _), = counts.most_common(1)
    if len(counts) > 1:
        a = next(f for f, s in zip(kept, sizes) if s == common)[0]
        b, other = next((f[0], s) for f, s in zip(kept, sizes) if s != common)
        raise ValueError(f"images differ in size: {os.path.join(root, a)} is {common[1]}x{common[0]} (H x W) but "
                         f"{os.path.join(root, b)} is {other[1]}x{other[0]}; set data.image_size = "
                         f"[{common[1]}, {common[0]}] (image_size=) to resize every image")
    return common[1], common[0]


def _decode_all(root, kept, channels, size, skip, path):
    """Decode every file into a new ``.npy`` at ``path`` (written through a memory map); returns the kept mask."""
    arr = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=(len(kept), channels, *size))
    good = np.ones(len(kept), bool)
    for i, (rel, _, _) in enumerate(kept):
        try:
            arr[i] = decode_image(os.path.join(root, rel), channels, size)
        except Exception as exc:  # noqa: BLE001
            if not skip:
                del arr
                os.remove(path)
                raise _bad(os.path.join(root, rel), exc) from None
            good[i] = False
    arr.flush()
    del arr
    return good


def _build_cache(root, files, image_size, skip, cache_dir, stem):
    kept, sizes, modes, bad = _headers(root, files, skip)
    if not kept:
        raise ValueError(f"{root!r} holds no readable images")
    size = _target_size(root, kept, sizes, image_size)
    channels = 1 if all(m in GRAY_MODES for m in modes) else 3
    tmp = os.path.join(cache_dir, f"{stem}.tmp-{os.getpid()}.npy")
    good = _decode_all(root, kept, channels, size, skip, tmp)
    if not good.all():
        bad += [os.path.join(root, kept[i][0]) for i in np.flatnonzero(~good)]
        np.save(tmp, np.load(tmp, mmap_mode="r")[good])
        kept = [k for k, g in zip(kept, good) if g]
    meta = {"files": [k[0] for k in kept], "parts": [k[1] for k in kept], "class_names": [k[2] for k in kept],
            "skipped": bad}
    with open(os.path.join(cache_dir, f"{stem}.json.tmp"), "w", encoding="utf-8") as fh:
        json.dump(meta, fh)
    os.replace(tmp, os.path.join(cache_dir, f"{stem}.npy"))
    os.replace(os.path.join(cache_dir, f"{stem}.json.tmp"), os.path.join(cache_dir, f"{stem}.json"))
    return meta


def load_image_folder(path, image_size=None, skip_bad_files: bool = False, cache_dir=None,
                      val_fraction: float = 0.1, test_fraction: float = 0.2, seed: int = 0):
    """Decode (once, then from the cache) a folder of class subfolders into :class:`~descend.data.DataSplits`.

    ``x`` is ``(N, C, H, W)`` float32 = uint8 / 255; ``y`` the class index (``class_names`` = sorted subfolder
    names). ``image_size=[H, W]`` resizes every image; without it all images must share a size (else a
    ValueError names two files of different sizes). A corrupt or non-image file raises a one-line ValueError
    naming it, or with ``skip_bad_files=True`` is skipped and counted in one warning (and in
    ``extra['skipped_files']``). ``cache_dir``: where the decoded arrays live (default
    :func:`default_cache_dir`).
    """
    from .sources import _carve  # the shared "split off what is missing" step (same package)

    root = os.fspath(path)
    if image_size is not None:
        if (not isinstance(image_size, (list, tuple)) or len(image_size) != 2
                or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 0
                           for v in image_size)):
            raise ValueError(f"image_size must be [H, W], two positive integers, got {image_size!r}")
        image_size = [int(v) for v in image_size]
    classes, files, split = _listing(root)
    if not files:
        raise ValueError(f"{root!r}: the class folders {classes} hold no files")
    cache_dir = os.fspath(cache_dir) if cache_dir is not None else default_cache_dir()
    os.makedirs(cache_dir, exist_ok=True)
    folder_key, content_key = _cache_key(root, files, image_size, skip_bad_files)
    stem = f"{folder_key}-{content_key}"
    meta_path = os.path.join(cache_dir, f"{stem}.json")
    try:
        with open(meta_path, encoding="utf-8") as fh:
            meta = json.load(fh)
        images = np.load(os.path.join(cache_dir, f"{stem}.npy"), mmap_mode="r")
    except (OSError, ValueError):
        for old in os.listdir(cache_dir):   # a stale cache of this folder (its files changed)
            if old.startswith(folder_key + "-"):
                os.remove(os.path.join(cache_dir, old))
        meta = _build_cache(root, files, image_size, skip_bad_files, cache_dir, stem)
        images = np.load(os.path.join(cache_dir, f"{stem}.npy"), mmap_mode="r")
    if meta["skipped"]:
        warnings.warn(f"{root}: skipped {len(meta['skipped'])} unreadable file(s) (first: {meta['skipped'][0]})",
                      stacklevel=2)
    y = np.array([classes.index(c) for c in meta["class_names"]], np.int64)
    parts = np.array(meta["parts"])
    x = {p: None for p in PARTS}
    ys = dict(x)
    for p in PARTS:
        rows = np.flatnonzero(parts == p)
        if len(rows):
            x[p] = np.asarray(images[rows], np.float32) * np.float32(1 / 255)
            ys[p] = y[rows]
    if x["train"] is None:
        raise ValueError(f"{root!r}: no readable training images")
    return _carve(os.path.basename(os.path.normpath(root)), x["train"], ys["train"], x["val"], ys["val"],
                        x["test"], ys["test"], val_fraction, test_fraction, seed, "classification",
                        class_names=classes, skipped_files=list(meta["skipped"]), split_folders=split)
