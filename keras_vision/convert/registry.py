"""`load_big_vision(...)`: reads a big_vision checkpoint and dispatches to the family's converter."""

from keras_vision.api_export import keras_vision_export
from keras_vision.convert.checkpoint import read_checkpoint
from keras_vision.convert.checkpoint import select_prefix
from keras_vision.convert.checkpoint import split_path_and_prefix
from keras_vision.convert.checkpoint import strip_default_prefix
from keras_vision.registry import Registry
from keras_vision.registry import RegistryError

# Filled by the model families (keras_vision/models/<family>/<family>_convert.py), which
# the package root imports: this package sits below the models it converts to.
CONVERTERS = Registry("converter name")


@keras_vision_export("keras_vision.convert.register_converter")
def register_converter(model_name, *aliases):
    """Decorator registering a converter for big_vision `model_name` (e.g. "vit").

    The converter is called as `fn(params, config=dict, image_shape=None|tuple, **kwargs)`
    with `params` a flat {"a/b": numpy array} dict (prefix already handled: "params/"
    stripped, or the user's `prefix` selected) and returns a Keras model with the
    weights loaded.

    Example:
        >>> @register_converter("proj.flexi.vit")
        ... def convert_flexivit(params, config, image_shape=None, **kwargs): ...
    """
    return CONVERTERS.register(model_name, *aliases)


def registered_converters():
    """Sorted model names `load_big_vision` can convert."""
    return CONVERTERS.names()


def get_converter(model_name):
    """The converter of big_vision model `model_name`; the error lists the convertible names."""
    if model_name not in CONVERTERS:
        raise RegistryError(f"No big_vision converter for model {model_name!r}; expected one of {CONVERTERS.names()}.")
    return CONVERTERS.get(model_name)


@keras_vision_export("keras_vision.convert.load_big_vision")
def load_big_vision(path_or_dict, model="vit", config=None, prefix=None, image_shape=None, **kwargs):
    """Builds a Keras model from a big_vision checkpoint (`.npz` or dict of arrays).

    Handles the layouts big_vision reads: no prefix (AugReg), "params/..." (training
    checkpoints; "opt/..." ignored), an explicit `prefix` such as "params/img" (SigLIP
    image tower) or big_vision's "file.npz:img" syntax, bfloat16 "|V2" arrays,
    scan-stacked `encoderblock`, and the family's legacy names. Missing, unexpected or
    mis-shaped parameters raise one error listing all of them.

    Args:
        path_or_dict: `.npz` path (optionally "path:prefix") or a (nested or flat) dict.
        model: big_vision model name whose converter to use ("vit", ...).
        config: big_vision model kwargs (`config.model`), e.g. {"variant": "B/16",
            "pool_type": "tok", "num_classes": 1000}; missing sizes are read from the
            checkpoint where the converter can.
        prefix: optional sub-tree to load; default: "params/" when present, else all.
        image_shape: optional (h, w, c) to build the model at; learned position
            embeddings are resampled (align-corners, as big_vision) to the new grid.
        **kwargs: converter options, e.g. `dont_load=["head/.*"]` (regexes of
            parameters to keep at their initial values).

    Returns:
        The Keras model (e.g. `ViTImageClassifier` when the config/checkpoint has a head).

    Example:
        >>> model = load_big_vision("ViT-B_16.npz", config={"variant": "B/16", "pool_type": "tok",
        ...                         "num_classes": 21843}, image_shape=(384, 384, 3))
    """
    path_or_dict, path_prefix = split_path_and_prefix(path_or_dict)
    flat = read_checkpoint(path_or_dict)
    flat = strip_default_prefix(flat)
    for p in (path_prefix, prefix):
        if p:
            p = p.strip("/")
            if p.startswith("params/") and not any(k.startswith(p) for k in flat):
                p = p[len("params/") :]  # already stripped by strip_default_prefix
            if p and p != "params":
                flat = select_prefix(flat, p)
    converter = get_converter(model)
    return converter(flat, config=dict(config or {}), image_shape=image_shape, **kwargs)
