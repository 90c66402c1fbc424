"""Recipe keys that trade compute for memory: `config.remat` and `config.dtype_mm`.

    config.remat = "blocks"      # recompute each transformer block in the backward pass
                                 # (big_vision's remat_policy="nothing_saveable" per block)
    config.remat = dict(mode="blocks", layers=r"encoderblock_(1|3|5)")  # chosen layers
    config.dtype_mm = "bfloat16" # bfloat16 matmuls, float32 parameters (Keras "mixed_bfloat16")

`dtype_mm` acts while the model is built (`with model_build_scope(config): ...`),
`remat` on the built model (`apply_remat(model, config.remat)`); `keras_vision.trainers.
train` does both.
"""

import contextlib
import re

import keras

from keras_vision.api_export import keras_vision_export
from keras_vision.config import ConfigError

DTYPE_POLICIES = {"float32": None, "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}
# Transformer blocks of every family are named encoderblock_<i> (big_vision's names).
BLOCK_PATTERN = r"encoderblock_\d+"


def _remat_pattern(remat):
    if remat in (None, False):
        return None
    if remat is True or remat == "blocks":
        return BLOCK_PATTERN
    if isinstance(remat, dict) and set(remat) <= {"mode", "layers"} and remat.get("mode", "blocks") == "blocks":
        return remat.get("layers", BLOCK_PATTERN)
    raise ConfigError(
        f"Unknown config.remat {remat!r}; expected None, 'blocks' (every transformer block) or "
        "dict(mode='blocks', layers=<regex over layer names>). (Keras' RematScope modes 'full' / "
        "'larger_than' cannot infer these blocks' output shapes, and 'activations' saves nothing here.)"
    )


def _walk(layer, seen):
    for sub in getattr(layer, "layers", None) or []:
        if id(sub) not in seen:
            seen.add(id(sub))
            yield sub
            yield from _walk(sub, seen)


@keras_vision_export("keras_vision.distribution.apply_remat")
def apply_remat(model, remat="blocks"):
    """Recomputes the matching layers' activations in the backward pass (`keras.remat`).

    Each layer whose name fullmatches the pattern (default: the transformer blocks
    `encoderblock_<i>`) keeps only its inputs for the backward pass and runs its forward
    again there: big_vision's `remat_policy="nothing_saveable"` per block. Tensor
    arguments go through the rematerialised function; Python values (`training=True`,
    masks given as None) stay static, which `keras.RematScope` does not do (its
    wrapper traces `training`, and a Dropout inside the block then fails).

    Args:
        model: a built Keras model (the wrapper replaces each matching layer's `call`).
        remat: "blocks", True, or dict(mode="blocks", layers=<regex over layer names>).

    Returns:
        The names of the layers wrapped by this call (a ConfigError if no layer matches).

    Example:
    >>> model = build_model("vit", variant="L/16", num_classes=1000)
    >>> apply_remat(model, "blocks")  # ['encoderblock_0', ..., 'encoderblock_23']
    """
    pattern = _remat_pattern(remat)
    if pattern is None:
        return []
    names, matched = [], False
    for layer in _walk(model, set()):
        if re.fullmatch(pattern, layer.name):
            matched = True
            if not getattr(layer, "_kv_remat", False):  # wrap once
                layer.call = _remat_call(layer.call)
                layer._kv_remat = True
                names.append(layer.name)
    if not matched:
        raise ConfigError(f"config.remat: no layer name matches {pattern!r} in {model.name!r}.")
    return names


def _remat_call(call):
    def wrapped(*args, **kwargs):
        dynamic = {k: v for k, v in kwargs.items() if keras.ops.is_tensor(v)}
        static = {k: v for k, v in kwargs.items() if k not in dynamic}
        return keras.remat(lambda *a, **d: call(*a, **d, **static))(*args, **dynamic)

    return wrapped


@keras_vision_export("keras_vision.distribution.model_build_scope")
@contextlib.contextmanager
def model_build_scope(config):
    """Context for building a recipe's model: `config.dtype_mm` as the global dtype
    policy ("bfloat16" -> Keras "mixed_bfloat16": bfloat16 compute, float32 variables),
    restored on exit. (`config.remat` is applied after the build: `apply_remat`.)

    Example:
    >>> with model_build_scope(dict(dtype_mm="bfloat16")):
    ...     model = build_model("vit", variant="L/16", num_classes=1000)
    """
    _remat_pattern(config.get("remat"))  # fail before the (long) build on a bad value
    dtype_mm = config.get("dtype_mm")
    if dtype_mm is None:
        yield
        return
    if dtype_mm not in DTYPE_POLICIES:
        raise ConfigError(f"Unknown config.dtype_mm {dtype_mm!r}; expected one of {list(DTYPE_POLICIES)}.")
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(DTYPE_POLICIES[dtype_mm] or "float32")
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
