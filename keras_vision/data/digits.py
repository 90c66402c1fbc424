"""digits: scikit-learn's 8x8 handwritten digits as a small real classification set.

The 1797 images of `sklearn.datasets.load_digits` (UCI optical digits, shipped inside
scikit-learn: no download) are split deterministically, stratified by class, into
train 1297 / val 200 / test 300 examples (a fixed permutation per class from
`np.random.default_rng(0)`, so every machine gets the same split).

Each example is {"image": uint8 (S, S, 3), "label": int32 (), "image/id": int32 ()}:
the 0..16 ink values are mapped to 0..255 ((v * 255 + 8) // 16, white ink on black)
and upscaled by pixel replication (nearest neighbour) to `image_size` (default 32, so
each source pixel becomes a 4x4 block); grey is copied to the three channels.
"image/id" is the index in `load_digits()`.

Example:
>>> from keras_vision.data import digits
>>> ds = digits.as_tf_dataset("train")          # 1297 examples, 32x32x3 uint8
>>> arrays = digits.load("test", image_size=16)  # numpy dict, for sklearn baselines
"""

import numpy as np
import tensorflow as tf
from sklearn.datasets import load_digits

CLASS_NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
SPLITS = ("train", "val", "test")
NUM_EXAMPLES = {"train": 1297, "val": 200, "test": 300}
_SPLIT_SEED = 0

_raw = None


def _load_raw():
    global _raw
    if _raw is None:
        d = load_digits()
        _raw = (d.images.astype(np.int64), d.target.astype(np.int32))
    return _raw


def split_indices(split):
    """Indices into `load_digits()` of `split`, sorted (stratified per class)."""
    if split not in NUM_EXAMPLES:
        raise ValueError(f"Unknown digits split {split!r}; expected one of {list(SPLITS)}.")
    _, target = _load_raw()
    rng = np.random.default_rng(_SPLIT_SEED)
    total = len(target)
    n_val, n_test = NUM_EXAMPLES["val"], NUM_EXAMPLES["test"]
    picked = {s: [] for s in SPLITS}
    # Per class, take a proportional share (largest remainders) for test and val.
    for name, n_split in (("test", n_test), ("val", n_val)):
        counts = np.bincount(target, minlength=10)
        exact = counts * n_split / total
        share = np.floor(exact).astype(int)
        order = np.lexsort((np.arange(10), -(exact - share)))
        share[order[: n_split - share.sum()]] += 1
        picked[name] = share
    out = []
    for c in range(10):
        idx = np.flatnonzero(target == c)
        idx = idx[rng.permutation(len(idx))]
        n_test_c, n_val_c = picked["test"][c], picked["val"][c]
        parts = {"test": idx[:n_test_c], "val": idx[n_test_c:n_test_c + n_val_c],
                 "train": idx[n_test_c + n_val_c:]}
        out.append(parts[split])
    return np.sort(np.concatenate(out)).astype(np.int64)


def load(split="train", image_size=32):
    """Split `split` as numpy arrays: "image" uint8 (N, S, S, 3), "label", "image/id" int32 (N,)."""
    if not 8 <= int(image_size) <= 1024:
        raise ValueError(f"Bad digits image_size={image_size!r}; expected an int in [8, 1024].")
    images, target = _load_raw()
    idx = split_indices(split)
    img = ((images[idx] * 255 + 8) // 16).astype(np.uint8)  # (N, 8, 8)
    src = (np.arange(int(image_size)) * 8) // int(image_size)  # nearest source row/column
    img = img[:, src][:, :, src]
    return {
        "image": np.repeat(img[..., None], 3, axis=-1),
        "label": target[idx].astype(np.int32),
        "image/id": idx.astype(np.int32),
    }


def num_examples(split):
    """Size of `split`: train 1297, val 200, test 300."""
    if split not in NUM_EXAMPLES:
        raise ValueError(f"Unknown digits split {split!r}; expected one of {list(SPLITS)}.")
    return NUM_EXAMPLES[split]


def as_tf_dataset(split="train", image_size=32):
    """tf.data.Dataset of {"image", "label", "image/id"} dicts of `split`, in a fixed order."""
    return tf.data.Dataset.from_tensor_slices(load(split, image_size))
