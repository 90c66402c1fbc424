"""General pp ops (value ranges, labels, key bookkeeping, random choice), big_vision names.

`onehot` extension: with no explicit `key`, an example that has "label" but no "labels"
is one-hot encoded from "label" into "labels" (so `onehot(10)|keep("image", "labels")`
works on sources that yield "label", as most do).
"""

import tensorflow as tf

from keras_vision.data.registry import RNG_KEY
from keras_vision.data.registry import get_key
from keras_vision.data.registry import in_key_out_key
from keras_vision.data.registry import next_seed
from keras_vision.data.registry import register


@register("value_range")
@in_key_out_key()
def get_value_range(vmin=-1, vmax=1, in_min=0, in_max=255.0, clip_values=False):
    """Maps [in_min, in_max] linearly to [vmin, vmax] as float32 (per channel if lists)."""

    def _value_range(image):
        lo = tf.constant(in_min, tf.float32)
        hi = tf.constant(in_max, tf.float32)
        image = (tf.cast(image, tf.float32) - lo) / (hi - lo)
        image = vmin + image * (vmax - vmin)
        if clip_values:
            image = tf.clip_by_value(image, vmin, vmax)
        return image

    return _value_range


_NO_KEY = object()


@register("onehot")
def get_onehot(depth, key=_NO_KEY, key_result=None, multi=True, on=1.0, off=0.0):
    """One-hot (or multi-hot) encodes integer labels.

    Args:
        depth: number of classes.
        key: input key (default "labels"; see the module note about "label").
        key_result: output key (default: `key`).
        multi: several labels (rank-1 input) give one multi-hot vector; False keeps
            one one-hot row per label.
        on, off: values for the positive / negative classes.
    """

    def _onehot(data):
        in_key, out_key = key, key_result
        if key is _NO_KEY:
            in_key = "labels"
            if "labels" not in data and "label" in data:
                in_key, out_key = "label", key_result or "labels"
        labels = tf.cast(get_key(data, in_key, "onehot"), tf.int64)
        if labels.shape.rank is None:
            raise ValueError(f"onehot: labels under {in_key!r} need a known rank.")
        if labels.shape.rank > 0 and multi:
            x = tf.scatter_nd(labels[:, None], tf.ones(tf.shape(labels)[0]), (depth,))
            x = tf.clip_by_value(x, 0, 1) * (on - off) + off
        else:
            x = tf.one_hot(labels, depth, on_value=on, off_value=off)
        data[out_key or in_key] = x
        return data

    return _onehot


@register("keep")
def get_keep(*keys):
    """Keeps only the given keys."""

    def _keep(data):
        return {k: v for k, v in data.items() if k in keys or k == RNG_KEY}

    return _keep


@register("drop")
def get_drop(*keys):
    """Drops the given keys."""

    def _drop(data):
        return {k: v for k, v in data.items() if k not in keys}

    return _drop


def _copy_structure(x):
    if isinstance(x, dict):
        return {k: _copy_structure(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(_copy_structure(v) for v in x)
    return x


@register("copy")
def get_copy(inkey, outkey):
    """Copies data[inkey] to data[outkey] (tensors are shared, containers copied)."""

    def _copy(data):
        data[outkey] = _copy_structure(get_key(data, inkey, "copy"))
        return data

    return _copy


@register("flatten")
def get_flatten():
    """Flattens nested dicts into '/'-joined keys: {"a": {"b": x}} -> {"a/b": x}."""

    def _flatten(data):
        out = {}

        def visit(prefix, d):
            for k, v in d.items():
                name = f"{prefix}/{k}" if prefix else k
                if isinstance(v, dict):
                    visit(name, v)
                else:
                    out[name] = v

        visit("", data)
        return out

    return _flatten


@register("setdefault")
def get_setdefault(key, value):
    """If data[key] is missing or empty, sets it to `value` (broadcast to its shape)."""

    def _setdefault(data):
        x = tf.convert_to_tensor(data.get(key, tf.constant(value)))
        v = tf.broadcast_to(tf.constant(value, dtype=x.dtype), [s or 1 for s in x.shape])
        data[key] = tf.cond(tf.size(x) > 0, lambda: x, lambda: v)
        return data

    return _setdefault


@register("choice")
def get_choice(n="single", key=None, fewer_ok=False, inkey=None, outkey=None):
    """Randomly picks the same `n` entries (along axis 0) of one or several keys.

    Args:
        n: "single" (one entry, leading axis dropped), an int (that many, without
            repetition, original order kept) or [min, max] (a random count).
        key, inkey, outkey: a key or a list of keys; outkey may contain "{key}".
        fewer_ok: allow fewer than `n` entries instead of failing.
    """
    src = inkey or key
    inkeys = (src,) if isinstance(src, str) or src is None else tuple(src)
    outsrc = outkey or key or inkeys
    outkeys = (outsrc,) if isinstance(outsrc, str) else tuple(outsrc)
    if inkeys[0] is None:
        raise ValueError("choice needs `key` or `inkey`.")
    if len(outkeys) != len(inkeys):
        raise ValueError(f"choice: {len(inkeys)} input keys but {len(outkeys)} output keys.")
    outkeys = [ok.format(key=ik) for ok, ik in zip(outkeys, inkeys)]
    varlen = isinstance(n, (list, tuple))
    if not (n == "single" or varlen or isinstance(n, int)):
        raise ValueError(f"choice: n must be 'single', an int or [min, max], got {n!r}.")
    min_n = n[0] if varlen else 1 if n == "single" else n

    def _choice(data):
        values = [tf.convert_to_tensor(get_key(data, k, "choice")) for k in inkeys]
        nitems = tf.shape(values[0])[0]
        checks = [
            tf.debugging.assert_equal(tf.shape(v)[0], nitems, message="choice: keys differ in length")
            for v in values
        ]
        if not fewer_ok:
            checks.append(
                tf.debugging.assert_greater_equal(
                    nitems, min_n, message=f"choice: fewer than {min_n} entries"
                )
            )
        with tf.control_dependencies(checks):
            nitems = tf.identity(nitems)
        seed = next_seed(data)
        if n == "single":
            index = tf.random.stateless_uniform([], seed, 0, nitems, dtype=tf.int32)
        else:
            seeds = tf.random.experimental.stateless_split(seed, 2)
            perm = tf.random.experimental.stateless_shuffle(tf.range(nitems), seed=seeds[0])
            end = tf.random.stateless_uniform([], seeds[1], n[0], n[1] + 1, dtype=tf.int32) if varlen else n
            indices = tf.sort(perm[:end])
        for v, ok in zip(values, outkeys):
            if n == "single":
                data[ok] = v[index]
            else:
                out = tf.gather(v, indices, axis=0)
                if not varlen and not fewer_ok:
                    out = tf.ensure_shape(out, [n] + [None] * (out.shape.rank - 1))
                data[ok] = out
        return data

    return _choice


@register("pad_to_shape")
@in_key_out_key()
def get_pad_to_shape(shape, pad_value=0):
    """Pads (at the end of each axis) to the static `shape`."""

    def _pad(x):
        if x.shape.rank != len(shape):
            raise ValueError(f"pad_to_shape{tuple(shape)}: input has rank {x.shape.rank}.")
        paddings = [[0, shape[i] - tf.shape(x)[i]] for i in range(len(shape))]
        out = tf.pad(x, paddings, constant_values=tf.constant(pad_value, x.dtype))
        out.set_shape(shape)
        return out

    return _pad


@register("squeeze_last_dim")
@in_key_out_key()
def get_squeeze_last_dim():
    """Removes a trailing axis of size 1."""
    return lambda x: tf.squeeze(x, axis=-1)


@register("reshape")
@in_key_out_key()
def get_reshape(new_shape):
    """Reshapes to `new_shape`."""
    return lambda x: tf.reshape(x, new_shape)


@register("concat")
def get_concat(inkeys, outkey=None, axis=-1):
    """Concatenates data[k] for k in `inkeys` along `axis` into `outkey` (default inkeys[0])."""

    def _concat(data):
        data[outkey or inkeys[0]] = tf.concat([get_key(data, k, "concat") for k in inkeys], axis)
        return data

    return _concat


@register("rename")
def get_rename(**mapping):
    """Renames keys: rename(label="labels") moves data["label"] to data["labels"]."""

    def _rename(data):
        for old, new in mapping.items():
            data[new] = data.pop(old) if old in data else get_key(data, old, "rename")
        return data

    return _rename
