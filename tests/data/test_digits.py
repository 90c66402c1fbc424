"""digits: scikit-learn's 8x8 digits as a deterministic, stratified train/val/test set."""

import hashlib

import numpy as np
import pytest
import tensorflow as tf

from keras_vision.data import digits


def test_splits_are_disjoint_cover_everything_and_are_stratified():
    idx = {s: digits.split_indices(s) for s in digits.SPLITS}
    assert {s: len(v) for s, v in idx.items()} == {"train": 1297, "val": 200, "test": 300}
    assert {s: digits.num_examples(s) for s in digits.SPLITS} == {"train": 1297, "val": 200, "test": 300}
    everything = np.concatenate(list(idx.values()))
    assert len(np.unique(everything)) == len(everything) == 1797
    for s in ("val", "test"):
        counts = np.bincount(digits.load(s)["label"], minlength=10)
        assert counts.max() - counts.min() <= 2, (s, counts)


def test_split_is_pinned():
    # A change here silently changes every digits result; it must be deliberate.
    h = hashlib.sha256(digits.split_indices("test").tobytes()).hexdigest()[:16]
    assert h == PINNED_TEST_SPLIT
    assert digits.split_indices("val")[:5].tolist() == PINNED_VAL_HEAD


def test_images_labels_and_upscaling():
    from sklearn.datasets import load_digits

    raw = load_digits()
    d = digits.load("val")
    assert d["image"].shape == (200, 32, 32, 3) and d["image"].dtype == np.uint8
    assert d["label"].dtype == np.int32 and d["image/id"].dtype == np.int32
    np.testing.assert_array_equal(d["label"], raw.target[d["image/id"]])
    i = int(d["image/id"][0])
    # Each source pixel is a 4x4 block of (v * 255 + 8) // 16, grey on all channels.
    expected = np.kron((raw.images[i].astype(int) * 255 + 8) // 16, np.ones((4, 4), int))
    np.testing.assert_array_equal(d["image"][0, ..., 0], expected)
    np.testing.assert_array_equal(d["image"][0, ..., 0], d["image"][0, ..., 2])
    assert d["image"].max() == 255 and d["image"].min() == 0
    assert digits.load("test", image_size=16)["image"].shape == (300, 16, 16, 3)
    assert digits.CLASS_NAMES[3] == "three" and len(digits.CLASS_NAMES) == 10


def test_tf_dataset():
    ds = digits.as_tf_dataset("test")
    assert ds.cardinality().numpy() == 300
    assert ds.element_spec["image"].shape == (32, 32, 3) and ds.element_spec["image"].dtype == tf.uint8
    assert ds.element_spec["label"].dtype == tf.int32
    labels = [int(x["label"]) for x in ds.as_numpy_iterator()]
    assert labels == digits.load("test")["label"].tolist()


def test_errors_name_the_value():
    with pytest.raises(ValueError, match="holdout"):
        digits.as_tf_dataset("holdout")
    with pytest.raises(ValueError, match="image_size=4"):
        digits.load("train", image_size=4)


@pytest.mark.filterwarnings("ignore::UserWarning")  # constant border pixels
def test_learnable_by_nearest_centroid():
    from sklearn.neighbors import NearestCentroid

    tr, te = digits.load("train", image_size=8), digits.load("test", image_size=8)
    flat = lambda d: d["image"][..., 0].reshape(len(d["label"]), -1).astype(np.float32)  # noqa: E731
    acc = NearestCentroid().fit(flat(tr), tr["label"]).score(flat(te), te["label"])
    assert acc > 0.85  # measured 0.887 (chance 0.1)


PINNED_TEST_SPLIT = "6598ee0ed3f9fc16"
PINNED_VAL_HEAD = [1, 6, 9, 15, 25]
