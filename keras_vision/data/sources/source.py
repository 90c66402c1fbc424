"""Base class of data sources: a fixed, ordered collection of example dicts."""

import tensorflow as tf


class Source:
    """A deterministic collection of example dicts (one epoch), built from a data config.

    Subclasses either support random access (`random_access = True`: they implement
    `load(index)` and know `num_examples`; the pipeline then shuffles with a full
    per-epoch permutation and resumes by index) or stream (`as_dataset`; the pipeline
    shuffles with a buffer).

    Attributes:
        name: the data config's name ("imagefolder", "shapes", a TFDS name, ...).
        split: the split string it was built with.
        num_examples: examples in one epoch, or None when unknown.
        random_access: whether `load(index)` is available.
    """

    random_access = False

    def __init__(self, name, split, num_examples=None):
        self.name = name
        self.split = split
        self.num_examples = num_examples

    def load(self, index):
        """Example `index` (a scalar int64 tensor) as a dict of tensors."""
        raise NotImplementedError(f"{type(self).__name__} does not support random access.")

    def index_dataset(self, shuffle=False, seed=0):
        """Indices 0..n-1 in order, or a permutation that depends only on `seed`.

        `seed` may be an int or a scalar int64 tensor (the pipeline passes one per epoch).
        """
        n = self.num_examples
        if not shuffle:
            return tf.data.Dataset.range(n)
        seed = tf.cast(seed, tf.int64)
        perm = tf.random.experimental.stateless_shuffle(
            tf.range(n, dtype=tf.int64), seed=tf.stack([seed, 0x5EED])
        )
        return tf.data.Dataset.from_tensor_slices(perm)

    def as_dataset(self, shuffle=False, seed=0):
        """One epoch of example dicts; with `shuffle`, an order fixed by `seed`."""
        if not self.random_access:
            raise NotImplementedError(f"{type(self).__name__} must implement as_dataset.")
        return self.index_dataset(shuffle, seed).map(
            self.load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
        )

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r}, split={self.split!r}, num_examples={self.num_examples})"
