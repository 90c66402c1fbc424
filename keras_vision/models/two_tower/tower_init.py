"""`load_tower_init(encoder, source)`: a two-tower's tower initialised from a pre-trained model (LiT)."""

import re

import keras
import numpy as np

from keras_vision.convert.checkpoint import ConversionError


def _relative_weights(model):
    """{path relative to the model's own scope: variable} (the scope = common path prefix)."""
    paths = [v.path for v in model.weights]
    first = paths[0].split("/")
    depth = 0
    while depth < len(first) - 1 and all(p.split("/")[depth] == first[depth] for p in paths):
        depth += 1
    # Keep at least the layer name: only strip a scope shared by every variable.
    anchor = [p for p in paths if p.endswith("embedding/kernel")]
    if anchor:
        depth = anchor[0].count("/") - 1
    return {"/".join(v.path.split("/")[depth:]): v for v in model.weights}


def load_tower_init(encoder, source, dont_load=()):
    """Initialises a tower from a pre-trained model (LiT: a classifier's image backbone).

    Backbone variables are matched by their path relative to the backbone; a head
    is copied only if the encoder has one of the same shape (else it keeps its
    initial values). Every backbone variable must be found.

    Args:
        encoder: the tower (`ViTBackbone` or `ViTImageClassifier`).
        source: the pre-trained Keras model (`keras_vision.loading.load_model` reads
            one from a `.keras` file, a big_vision `.npz`, a run directory or a preset).
        dont_load: regexes (fullmatch on relative paths) of variables to keep at init.
    """
    if not isinstance(source, keras.Model):
        raise TypeError(
            f"A tower init is a loaded keras.Model here, got {source!r}; give a path in a recipe's "
            "config.model (keras_vision.loading.model_from_config loads it) or call keras_vision.loading.load_model."
        )
    init = source.name
    src_backbone = getattr(source, "backbone", source)
    dst_backbone = getattr(encoder, "backbone", encoder)
    src = _relative_weights(src_backbone)
    dst = _relative_weights(dst_backbone)
    skip = [re.compile(p) for p in dont_load]
    missing = sorted(k for k in dst if k not in src and not any(p.fullmatch(k) for p in skip))
    if missing:
        raise ConversionError(f"Tower init {str(init)!r} lacks {missing}.")
    for key, variable in dst.items():
        if any(p.fullmatch(key) for p in skip):
            continue
        value = src[key].numpy() if hasattr(src[key], "numpy") else np.asarray(src[key])
        if tuple(value.shape) != tuple(variable.shape):
            raise ConversionError(f"Tower init {key}: {tuple(value.shape)} vs {tuple(variable.shape)}.")
        variable.assign(value)
    src_head, dst_head = getattr(source, "head", None), getattr(encoder, "head", None)
    if src_head is not None and dst_head is not None and src_head.kernel.shape == dst_head.kernel.shape:
        dst_head.set_weights(src_head.get_weights())
