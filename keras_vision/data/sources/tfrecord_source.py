"""`tfrecord`: TFRecord files of tf.train.Example protos, parsed with a feature spec."""

import os

import numpy as np
import tensorflow as tf

from keras_vision.data.sources.source import Source
from keras_vision.data.sources.split import parse_split

_DTYPES = {
    "string": tf.string,
    "bytes": tf.string,
    "str": tf.string,
    "int": tf.int64,
    "int64": tf.int64,
    "int32": tf.int64,
    "float": tf.float32,
    "float32": tf.float32,
}
_FEATURE_TYPES = (
    tf.io.FixedLenFeature,
    tf.io.VarLenFeature,
    tf.io.FixedLenSequenceFeature,
    tf.io.RaggedFeature,
)


def parse_feature(key, spec):
    """A tf.io feature from a short spec.

    Accepted: a tf.io.*Feature; a dtype name ("string", "int64", "float32": a scalar);
    (dtype, shape) with shape None for variable length (returned as a dense 1-D tensor);
    {"dtype", "shape", "default"}.
    """
    if isinstance(spec, _FEATURE_TYPES):
        return spec
    default = None
    if isinstance(spec, str):
        dtype, shape = spec, ()
    elif isinstance(spec, (list, tuple)) and len(spec) == 2:
        dtype, shape = spec
    elif isinstance(spec, dict):
        dtype, shape, default = spec.get("dtype"), spec.get("shape", ()), spec.get("default")
    else:
        raise ValueError(
            f"tfrecord: bad feature spec {key!r}: {spec!r}; expected 'int64', ('float32', [3]), "
            "('string', None), ..."
        )
    if dtype not in _DTYPES:
        raise ValueError(f"tfrecord: feature {key!r} has dtype {dtype!r}; expected one of {sorted(_DTYPES)}.")
    if shape is None:
        return tf.io.VarLenFeature(_DTYPES[dtype])
    return tf.io.FixedLenFeature(list(shape), _DTYPES[dtype], default_value=default)


class TFRecordSource(Source):
    """Examples parsed from TFRecord files.

    Data config keys:
        path: a glob, a list of globs/files; "{split}" is replaced by the split name
            ("/data/{split}-*.tfrecord").
        features: {key: spec} (see `parse_feature`), e.g. {"image": "string",
            "label": "int64", "texts": ("string", None)}.
        split: "train", "train[:1000]", "train[:90%]" (percentages count the records
            once, reading the files), "train+val".
        num_examples: the split's size if known (skips counting for % slices).
        compression_type: "", "GZIP" or "ZLIB".

    With shuffling, the file order is a permutation fixed by the seed; the pipeline adds
    a shuffle buffer per epoch.
    """

    def __init__(
        self,
        path=None,
        features=None,
        split="train",
        num_examples=None,
        compression_type="",
        data_dir=None,
        name="tfrecord",
    ):
        if not path:
            raise ValueError(
                "tfrecord: set `path` to a glob of TFRecord files, e.g. '/data/{split}-*.tfrecord'."
            )
        if not features:
            raise ValueError(
                "tfrecord: set `features` to {key: spec}, e.g. {'image': 'string', 'label': 'int64'}."
            )
        self.features = {k: parse_feature(k, v) for k, v in features.items()}
        self.compression_type = compression_type
        patterns = [path] if isinstance(path, (str, os.PathLike)) else list(path)
        self._parts = []
        total = 0
        for part in parse_split(split, default_name="train"):
            files = []
            for pattern in patterns:
                pattern = os.path.expanduser(os.fspath(pattern)).replace("{split}", part.name)
                if data_dir and not os.path.isabs(pattern):
                    pattern = os.path.join(data_dir, pattern)
                found = sorted(tf.io.gfile.glob(pattern))
                if not found:
                    raise FileNotFoundError(f"tfrecord: no files match {pattern!r}.")
                files += found
            n = num_examples if len(self._parts) == 0 and num_examples is not None else None
            lo = hi = None
            if part.is_sliced:
                if n is None and _needs_count(part):
                    n = _count(files, compression_type)
                lo, hi = (
                    part.bounds(n)
                    if n is not None
                    else (part.start[0] if part.start else 0, part.stop[0] if part.stop else None)
                )
                n = None if hi is None else hi - lo
            self._parts.append((files, lo, hi))
            total = None if (total is None or n is None) else total + n
        super().__init__(name, split, num_examples=total)

    def _parse(self, record):
        ex = tf.io.parse_single_example(record, self.features)
        return {k: tf.sparse.to_dense(v) if isinstance(v, tf.SparseTensor) else v for k, v in ex.items()}

    def as_dataset(self, shuffle=False, seed=0):
        ds = None
        for i, (files, lo, hi) in enumerate(self._parts):
            if shuffle and lo is None and hi is None:  # a slice must read the files in order
                files = [files[j] for j in np.random.default_rng([int(seed), i]).permutation(len(files))]
            part = tf.data.Dataset.from_tensor_slices(files).interleave(
                lambda f: tf.data.TFRecordDataset(f, compression_type=self.compression_type),
                cycle_length=min(len(files), 16) if (shuffle and lo is None and hi is None) else 1,
                num_parallel_calls=tf.data.AUTOTUNE,
                deterministic=True,
            )
            if lo:
                part = part.skip(lo)
            if hi is not None:
                part = part.take(hi - (lo or 0))
            ds = part if ds is None else ds.concatenate(part)
        return ds.map(self._parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def _needs_count(part):
    return any(b is not None and (b[1] or b[0] < 0) for b in (part.start, part.stop))


def _count(files, compression_type):
    return int(
        tf.data.TFRecordDataset(files, compression_type=compression_type).reduce(
            np.int64(0), lambda n, _: n + 1
        )
    )
