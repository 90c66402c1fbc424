"""`make_pipeline`: source -> shuffle -> repeat -> pp -> batch -> mixup -> prefetch.

Determinism: everything random is a function of `seed` and of the example's position in
the stream (epoch e uses a permutation / shuffle buffer seeded by (seed, e); example k
gets pp seed (seed, k); batch s gets mixup seed (seed, s)). So two runs with the same
seed yield identical batches, and `start_step=s` yields exactly the batches s, s+1, ...
of an uninterrupted run, cheaply: whole epochs are skipped by arithmetic, and within the
epoch random-access sources skip indices (no reads) while streams skip raw examples
(read, but not preprocessed).
"""

import logging
import threading

import tensorflow as tf

from keras_vision import compat
from keras_vision.api_export import keras_vision_export
from keras_vision.data.builder import get_preprocess_fn
from keras_vision.data.image_check import PATH_KEY
from keras_vision.data.image_check import image_bytes_problem
from keras_vision.data.mixup import mixup_batch_fn
from keras_vision.data.registry import RNG_KEY
from keras_vision.data.sources import get_source

logger = logging.getLogger(__name__)

_PP_STREAM = 0x51A7  # separates the per-example pp seeds from the shuffle seeds


class DecodeErrorCounter:
    """Counts (and logs) the examples dropped by `skip_decode_errors=True`.

    Attributes:
        count: examples skipped so far (over all epochs).
        recent: the last few (path, reason) pairs.
    """

    def __init__(self, log_first=10, log_every=100, keep=20):
        self.count = 0
        self.recent = []
        self._lock = threading.Lock()
        self._log_first, self._log_every, self._keep = log_first, log_every, keep

    def record(self, path, reason):
        path = path.decode("utf-8", "replace") if isinstance(path, bytes) else str(path)
        reason = reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)
        with self._lock:
            self.count += 1
            self.recent = (self.recent + [(path, reason)])[-self._keep :]
            n = self.count
        if n <= self._log_first or n % self._log_every == 0:
            logger.warning("Skipping undecodable image %s: %s (%d skipped so far).", path, reason, n)

    def _record_tf(self, path, reason):
        self.record(path.numpy(), reason.numpy())
        return False

    def __repr__(self):
        return f"DecodeErrorCounter(count={self.count})"


def _epoch_seed(seed, epoch):
    """A scalar int64 seed for epoch `epoch` (tensor) of run `seed`."""
    pair = tf.stack([tf.constant(seed, tf.int64), tf.cast(epoch, tf.int64)])
    return tf.random.stateless_uniform([], seed=pair, minval=None, maxval=None, dtype=tf.int64)


def _seeded_shuffle(ds, buffer_size, seed):
    """`ds.shuffle(buffer_size)` whose order depends only on the int64 tensor `seed`.

    `Dataset.shuffle(seed=...)` mixes in TF's global seed (`tf.random.set_seed`) and
    cannot take a tensor seed in a graph, so build the same op directly.
    """
    variant = tf.raw_ops.ShuffleDatasetV3(
        input_dataset=tf.data.experimental.to_variant(ds),
        buffer_size=tf.constant(buffer_size, tf.int64),
        seed=tf.cast(seed, tf.int64),
        seed2=tf.constant(_PP_STREAM, tf.int64),
        seed_generator=tf.raw_ops.DummySeedGenerator(),
        reshuffle_each_iteration=False,
        output_types=compat.dataset_flat_types(ds),
        output_shapes=compat.dataset_flat_shapes(ds),
    )
    return tf.data.experimental.from_variant(variant, ds.element_spec)


def _mixup_config(mixup):
    if mixup is None or mixup is False:
        return None
    if isinstance(mixup, (int, float)):
        mixup = {"p": float(mixup)}
    mixup = dict(mixup)
    p = mixup.pop("p", None)
    keys = tuple(mixup.pop("keys", ("image", "labels")))
    mixup.pop("fold_in", None)  # big_vision: where the coefficient is shared; one per step here.
    mixup.pop("n", None)  # legacy big_vision option (always 2 here)
    if mixup:
        raise ValueError(f"mixup: unknown options {sorted(mixup)}; expected p (and keys).")
    return None if not p else (float(p), keys)


@keras_vision_export("keras_vision.data.make_pipeline")
def make_pipeline(
    data_config,
    pp,
    batch_size,
    *,
    train,
    seed=0,
    shuffle_buffer_size=10_000,
    skip_decode_errors=False,
    mixup=None,
    start_step=0,
    shuffle=None,
    repeat=None,
    drop_remainder=None,
    cache_raw=False,
    image_key="image",
    num_parallel_calls=tf.data.AUTOTUNE,
    prefetch=tf.data.AUTOTUNE,
    process_index=0,
    process_count=1,
):
    """A batched tf.data.Dataset of preprocessed example dicts, deterministic given `seed`.

    Args:
        data_config: a data config dict (see `get_source`) or a `Source`.
        pp: a pp string (see `get_preprocess_fn`) or a function of one example dict.
        batch_size: examples per batch (the global batch on this host).
        train: training mode: shuffle, repeat forever, drop the last partial batch.
        seed: run seed; every random choice derives from it.
        shuffle_buffer_size: buffer for streaming sources (TFDS, tfrecord, shapes,
            digits), refilled each epoch; random-access sources (imagefolder,
            image_text_*) get a full permutation per epoch instead.
        skip_decode_errors: drop examples whose image bytes are not decodable (empty,
            truncated, not an image) instead of failing; they are counted in
            `dataset.decode_errors` (a DecodeErrorCounter) and logged with their file.
            Errors that surface later in the pp are then dropped too (logged by tf.data).
        mixup: None, p, or big_vision's dict(p=0.2) (optionally keys=("image",
            "labels")): batch-level mixup, one coefficient per step (see `mixup`).
        start_step: start at this batch (resume after `start_step` training steps).
        shuffle, repeat, drop_remainder: override the `train` defaults.
        cache_raw: cache the raw (undecoded) examples in memory after the first epoch.
        image_key: where `skip_decode_errors` looks for image bytes.
        num_parallel_calls, prefetch: tf.data parallelism of the pp and of prefetching.
        process_index, process_count: multi-host input: this host reads every
            process_count-th example of each epoch (pass jax.process_index() and
            jax.process_count()); `batch_size` is then the per-host batch. Mixup
            coefficients stay the same on every host (big_vision: one per step).

    Returns:
        The dataset, with attributes `source`, `num_examples` (one epoch of this host,
        or None) and `decode_errors`.

    Example:
    >>> ds = make_pipeline(dict(name="shapes", split="train"),
    ...                    "decode|value_range(-1, 1)|onehot(10)|keep('image', 'labels')",
    ...                    32, train=True, seed=0, mixup=dict(p=0.2))
    """
    source = get_source(data_config)
    pp_fn = get_preprocess_fn(pp)
    seed = int(seed)
    shuffle = train if shuffle is None else shuffle
    repeat = train if repeat is None else repeat
    drop_remainder = train if drop_remainder is None else drop_remainder
    if not 0 <= process_index < process_count:
        raise ValueError(f"process_index must be in [0, {process_count}), got {process_index}.")
    n = source.num_examples
    if n == 0:
        raise ValueError(f"{source!r} has no examples.")
    if n is not None and process_count > 1:
        n = len(range(process_index, n, process_count))  # this host's share of an epoch
        if n == 0:
            raise ValueError(f"{source!r} has fewer examples than hosts ({process_count}).")

    def shard(ds):
        return ds.shard(process_count, process_index) if process_count > 1 else ds

    if start_step and not repeat:
        raise ValueError("start_step needs a repeated (training) pipeline.")
    offset = int(start_step) * int(batch_size)
    start_epoch, within = divmod(offset, n) if (n and repeat) else (0, offset)

    if source.random_access:
        if repeat:
            ids = tf.data.Dataset.counter(start_epoch).flat_map(
                lambda e: shard(source.index_dataset(shuffle, _epoch_seed(seed, e)))
            )
        else:
            ids = shard(source.index_dataset(shuffle, _epoch_seed(seed, 0)))
        ds = ids.skip(within).map(source.load, num_parallel_calls=num_parallel_calls, deterministic=True)
    else:
        raw = shard(source.as_dataset(shuffle=shuffle, seed=seed))
        if cache_raw:
            raw = raw.cache()

        def epoch(e):
            if shuffle and shuffle_buffer_size and shuffle_buffer_size > 1:
                return _seeded_shuffle(raw, shuffle_buffer_size, _epoch_seed(seed, e))
            return raw

        ds = tf.data.Dataset.counter(start_epoch).flat_map(epoch) if repeat else epoch(0)
        ds = ds.skip(within)

    base = tf.random.experimental.stateless_fold_in(tf.constant([seed, _PP_STREAM], tf.int64), process_index)

    def add_rng(position, example):
        example = dict(example)
        example[RNG_KEY] = tf.random.experimental.stateless_fold_in(base, position)
        return example

    ds = ds.enumerate(start=offset).map(add_rng)

    counter = DecodeErrorCounter()
    if skip_decode_errors:
        spec = ds.element_spec.get(image_key)
        if isinstance(spec, tf.TensorSpec) and spec.dtype == tf.string and spec.shape.rank == 0:

            def decodable(example):
                problem = image_bytes_problem(example[image_key])
                path = example.get(PATH_KEY, tf.constant("<no path>"))
                return tf.cond(
                    tf.equal(problem, ""),
                    lambda: tf.constant(True),
                    lambda: tf.reshape(tf.py_function(counter._record_tf, [path, problem], tf.bool), []),
                )

            ds = ds.filter(decodable)

    ds = ds.map(pp_fn, num_parallel_calls=num_parallel_calls, deterministic=True)
    if skip_decode_errors:
        ds = ds.ignore_errors(log_warning=True)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)

    mix = _mixup_config(mixup)
    if mix is not None:
        p, keys = mix
        ds = ds.enumerate(start=int(start_step)).map(
            mixup_batch_fn(p, seed, keys), num_parallel_calls=num_parallel_calls
        )
    if prefetch:
        ds = ds.prefetch(prefetch)
    options = tf.data.Options()
    options.deterministic = True
    ds = ds.with_options(options)
    ds.source = source
    ds.num_examples = n
    ds.decode_errors = counter
    return ds
