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

import contextlib
import functools
import inspect

# Per-example seed (int64 [2]) threaded through a pp chain; never part of the output.
RNG_KEY = "_pp_rng"

_OPS = {}


def register(name, replace=False):
    """Decorator registering a pp op factory under `name` (a big_vision op name).

    Args:
        name: the op's name in pp strings, e.g. "resize_small".
        replace: allow overwriting an existing op (otherwise an error).
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"pp op names must be Python identifiers, got {name!r}.")

    def decorator(factory):
        if name in _OPS and not replace and _OPS[name] is not factory:
            raise KeyError(f"pp op {name!r} is already registered; pass replace=True to override it.")
        _OPS[name] = factory
        return factory

    return decorator


def unregister(name):
    """Removes op `name` (for tests and temporary user ops)."""
    _OPS.pop(name, None)


def known_ops():
    """Sorted names of all registered pp ops (loads the built-in ops first)."""
    _load_builtin_ops()
    return sorted(_OPS)


def lookup(name):
    """The factory registered as `name`; an error lists the known ops otherwise."""
    _load_builtin_ops()
    if name not in _OPS:
        raise ValueError(f"Unknown pp op {name!r}; known ops: {', '.join(sorted(_OPS))}.")
    return _OPS[name]


@contextlib.contextmanager
def temporary_ops(**factories):
    """Registers `name=factory` ops for the duration of a `with` block."""
    _load_builtin_ops()
    clash = [k for k in factories if k in _OPS]
    if clash:
        raise KeyError(f"pp ops {clash} are already registered.")
    for k, v in factories.items():
        register(k)(v)
    try:
        yield
    finally:
        for k in factories:
            unregister(k)


_BUILTIN_LOADED = False


def _load_builtin_ops():
    global _BUILTIN_LOADED
    if _BUILTIN_LOADED:
        return
    _BUILTIN_LOADED = True
    # Imported for their @register side effects.
    from keras_vision.data import ops_general  # noqa: F401
    from keras_vision.data import ops_image  # noqa: F401
    from keras_vision.data import ops_text  # noqa: F401
    from keras_vision.data import randaug  # noqa: F401


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
    import tensorflow as tf

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
