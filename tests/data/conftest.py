"""Helpers for the data tests: run a pp both eagerly and inside tf.data; tiny image files."""

import numpy as np
import pytest


def _to_numpy(tree):
    if isinstance(tree, dict):
        return {k: _to_numpy(v) for k, v in tree.items()}
    return np.asarray(tree)


@pytest.fixture
def run_pp():
    """run_pp(pp, example, seed=None) -> (eager output, tf.data output), as numpy.

    With `seed` (two ints), the example carries the per-example pp seed that
    make_pipeline would add, so random ops give the same result both ways.
    """
    import tensorflow as tf

    from keras_vision.data import get_preprocess_fn
    from keras_vision.data.registry import RNG_KEY

    def run(pp, example, seed=None):
        example = dict(example)
        if seed is not None:
            example[RNG_KEY] = tf.constant(seed, tf.int64)
        fn = get_preprocess_fn(pp)
        eager = _to_numpy(fn(example))
        ds = tf.data.Dataset.from_tensors(example).map(get_preprocess_fn(pp))
        graph = _to_numpy(next(iter(ds)))
        return eager, graph

    return run


def _random_image(h, w, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _write_image(path, image, fmt=None):
    """Writes a uint8 HxWx3 image as PNG or JPEG (by extension) with tf.io.encode_*."""
    import tensorflow as tf

    fmt = fmt or ("png" if str(path).endswith(".png") else "jpeg")
    data = tf.io.encode_png(image) if fmt == "png" else tf.io.encode_jpeg(image, quality=95)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.numpy())
    return path


@pytest.fixture
def random_image():
    """random_image(h, w, seed=0) -> uint8 (h, w, 3)."""
    return _random_image


@pytest.fixture
def write_image():
    """write_image(path, image, fmt=None): PNG or JPEG (by extension) via tf.io.encode_*."""
    return _write_image


@pytest.fixture
def image_folder(tmp_path):
    """root/{train,val}/{cat,dog,emu}/i.{png,jpg}: train 4 per class, val 2 per class."""
    root = tmp_path / "folder"
    k = 0
    for split, per_class in (("train", 4), ("val", 2)):
        for c in ("cat", "dog", "emu"):
            for i in range(per_class):
                ext = "png" if i % 2 == 0 else "jpg"
                _write_image(root / split / c / f"{i:02d}.{ext}", _random_image(12 + i, 10 + k % 3, seed=k))
                k += 1
    (root / "train" / "cat" / "notes.txt").write_text("not an image")
    return root
