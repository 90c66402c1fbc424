"""Registry of preprocessing (pp) ops, addressed by big_vision's op names.

A pp op is registered as a *factory*: `factory(*args, **kwargs)` is called once when a
pp string is built and returns `fn(data) -> data`, a function of a dict of TF tensors.
`register` adds one; `in_key_out_key` gives single-tensor ops big_vision's
`key`/`inkey`/`outkey` arguments.

Randomness: random ops draw stateless seeds from the example itself (`next_seed`), so the
same example at the same position of a pipeline gets the same augmentation on every run
and after a resume. `keras_vision.data.make_pipeline` puts a per-example seed under
`RNG_KEY`; without it (eager use of a pp function), ops fall back to TF's global RNG
(`tf.random.set_seed` makes that reproducible within one process).

Example:
>>> from keras_vision.data import registry
>>> @registry.register("times")
... @registry.in_key_out_key()
... def get_times(factor=2):
...     return lambda image: image * factor
>>> fn = keras_vision.data.get_preprocess_fn("times(3, key='x')")
"""

import functools
import inspect

import tensorflow as tf

from keras_vision.registry import Registry

# Per-example seed (int64 [2]) threaded through a pp chain; never part of the output.
RNG_KEY = "_pp_rng"

# Filled by ops_general, ops_image, ops_text, ops_paligemma and randaug (imported by keras_vision/data/__init__.py).
PP_OPS = Registry("pp op")


def register(name, replace=False):
    """Decorator registering a pp op factory under `name` (a big_vision op name).

    Args:
        name: the op's name in pp strings, e.g. "resize_small".
        replace: allow overwriting an existing op (otherwise an error).
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"pp op names must be Python identifiers, got {name!r}.")
    return PP_OPS.register(name, replace=replace)


def unregister(name):
    """Removes op `name` (for tests and temporary user ops)."""
    PP_OPS.remove(name)


def known_ops():
    """Sorted names of all registered pp ops."""
    return PP_OPS.names()


def lookup(name):
    """The factory registered as `name`; an error lists the known ops otherwise."""
    return PP_OPS.get(name)


def temporary_ops(**factories):
    """Registers `name=factory` ops for the duration of a `with` block."""
    return PP_OPS.temporary(**factories)


def maybe_repeat(arg, n):
    """`arg` as an n-tuple: scalars are repeated, sequences kept."""
    if isinstance(arg, (list, tuple)):
        if len(arg) != n:
            raise ValueError(f"Expected a number or {n} numbers, got {arg!r}.")
        return tuple(arg)
    return (arg,) * n


def get_key(data, key, op_name):
    """data[key] with an error naming the op and the available keys."""
    try:
        return data[key]
    except KeyError:
        raise KeyError(f"pp op {op_name!r} needs key {key!r}, but the example has {sorted(data)}.") from None


def next_seed(data):
    """A fresh stateless seed (int64 [2]) for one random op, advancing data[RNG_KEY]."""
    if RNG_KEY in data:
        seeds = tf.random.experimental.stateless_split(data[RNG_KEY], 2)
        data[RNG_KEY] = seeds[0]
        return seeds[1]
    # Eager/standalone use: draw the seed from TF's global (stateful) generator.
    return tf.random.uniform([2], minval=-(2**62), maxval=2**62, dtype=tf.int64)


def in_key_out_key(indefault="image", outdefault="image", with_data=False, with_rng=False):
    """Decorator giving a single-tensor op big_vision's `key`, `inkey`, `outkey` arguments.

    The decorated factory returns `fn(x)` (or `fn(x, seed)` with `with_rng`, or with a
    `data=` keyword with `with_data`); the result reads `data[key or inkey]` and writes
    `data[key or outkey]`.
    """

    def decorator(factory):
        op_name = factory.__name__.removeprefix("get_")

        @functools.wraps(factory)
        def wrapped(*args, key=None, inkey=indefault, outkey=outdefault, **kwargs):
            fn = factory(*args, **kwargs)
            src, dst = key or inkey, key or outkey
            if src is None:
                raise ValueError(f"pp op {op_name!r} needs `key` or `inkey` (which input to read).")

            def op(data):
                x = get_key(data, src, op_name)
                extra = {}
                if with_data:
                    extra["data"] = data
                if with_rng:
                    data[dst] = fn(x, next_seed(data), **extra)
                else:
                    data[dst] = fn(x, **extra)
                return data

            return op

        # Keep the factory's signature (plus the key arguments) for error messages.
        params = list(inspect.signature(factory).parameters.values())
        params += [
            inspect.Parameter(k, inspect.Parameter.KEYWORD_ONLY, default=d)
            for k, d in (("key", None), ("inkey", indefault), ("outkey", outdefault))
        ]
        wrapped.__signature__ = inspect.Signature(params)
        return wrapped

    return decorator
