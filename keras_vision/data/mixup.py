"""Mixup (arXiv:1710.09412) with big_vision's semantics, as a tf.data batch op.

big_vision (`utils.get_mixup`): one coefficient per step a ~ Beta(p, p), a = max(a, 1 - a)
(so each example keeps the larger share), and every array x of the batch becomes
`a * x + (1 - a) * roll(x, 1, axis=0)`: example i is mixed with example i - 1. Images and
(one-hot) labels are mixed alike. big_vision mixes inside each device shard on the
accelerator; here the roll is over the host batch in tf.data, before sharding.

Example:
>>> ds = ds.batch(8)                                  # {"image": f32, "labels": f32}
>>> ds = ds.enumerate().map(mixup_batch_fn(p=0.2, seed=0))
>>> a = sample_mixup_coefficient(0.2, seed=[0, 3])    # the step-3 coefficient
"""

import tensorflow as tf

from keras_vision.api_export import keras_vision_export

DEFAULT_KEYS = ("image", "labels")


@keras_vision_export("keras_vision.data.mixup.sample_mixup_coefficient")
def sample_mixup_coefficient(p, seed):
    """a = max(a', 1 - a') with a' ~ Beta(p, p), from a stateless seed (int [2])."""
    seed = tf.convert_to_tensor(seed, tf.int64)
    seeds = tf.random.experimental.stateless_split(seed, 2)
    g1 = tf.random.stateless_gamma([], seeds[0], alpha=float(p))
    g2 = tf.random.stateless_gamma([], seeds[1], alpha=float(p))
    a = g1 / (g1 + g2)
    # Beta(p, p) with small p can underflow both gammas to 0: then it is 0 or 1, i.e. a=1.
    a = tf.where(tf.math.is_finite(a), a, 1.0)
    return tf.maximum(a, 1.0 - a)


@keras_vision_export("keras_vision.data.mixup.mix")
def mix(batch, a, keys=DEFAULT_KEYS):
    """Mixes `keys` of a batch dict with coefficient `a`: a*x + (1-a)*roll(x, 1, axis=0).

    Works on tf tensors and numpy arrays; the other keys are returned unchanged.
    """
    out = dict(batch)
    for k in keys:
        if k not in batch:
            raise KeyError(f"mixup: key {k!r} not in the batch (keys: {sorted(batch)}).")
        x = tf.convert_to_tensor(batch[k])
        if not x.dtype.is_floating:
            raise TypeError(
                f"mixup: {k!r} has dtype {x.dtype.name}; mixup needs float images and one-hot "
                "float labels (use value_range(...) and onehot(...) in the pp)."
            )
        a_x = tf.cast(a, x.dtype)
        out[k] = a_x * x + (1 - a_x) * tf.roll(x, shift=1, axis=0)
    return out


@keras_vision_export("keras_vision.data.mixup.mixup")
def mixup(batch, p, seed, keys=DEFAULT_KEYS):
    """Samples a with `sample_mixup_coefficient(p, seed)` and mixes `batch`; returns (batch, a)."""
    a = sample_mixup_coefficient(p, seed)
    return mix(batch, a, keys), a


@keras_vision_export("keras_vision.data.mixup.mixup_batch_fn")
def mixup_batch_fn(p, seed=0, keys=DEFAULT_KEYS):
    """A tf.data map fn `(step, batch) -> mixed batch` (use after `.enumerate()`).

    The coefficient of step s depends only on (seed, s), so a resumed pipeline that
    enumerates from its start step mixes exactly like an uninterrupted one.
    """
    base = tf.constant([int(seed), 0x6D1C], tf.int64)  # a stream apart from the pp seeds

    def _fn(step, batch):
        step_seed = tf.random.experimental.stateless_fold_in(base, tf.cast(step, tf.int64))
        return mixup(batch, p, step_seed, keys)[0]

    return _fn
