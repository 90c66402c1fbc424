"""`build_model("proj.image_text.two_towers" | "proj.image_text.text_transformer", **big_vision_kwargs)`."""

import inspect

import keras

from keras_vision.models.registry import build_model
from keras_vision.models.registry import register_model
from keras_vision.models.registry import resolve_model_kwargs
from keras_vision.models.two_tower.text_transformer_backbone import TextTransformerBackbone
from keras_vision.models.two_tower.tower_init import load_tower_init
from keras_vision.models.vit.vit_builder import expand_variant
from keras_vision.models.vit.vit_variants import decode_variant
from keras_vision.models.two_tower.two_tower_model import TwoTowerModel

# big_vision `text_transformer` kwarg -> TextTransformerBackbone arg.
_TEXT_NAMES = {
    "width": "hidden_dim",
    "depth": "num_layers",
    "mlp_dim": "intermediate_dim",
    "num_heads": "num_heads",
    "vocab_size": "vocabulary_size",
    "pool_type": "pooling",
    "dropout": "dropout_rate",
    "num_classes": "output_dim",
    # Not a big_vision kwarg (there the length comes from the first batch): the fixed
    # text length L of the position embedding, = the tokenizer's max_len.
    "seq_len": "sequence_length",
}
_TEXT_EXTENSIONS = ("layer_norm_epsilon", "dtype")
_TEXT_IGNORED = ("scan", "remat_policy", "dtype_mm", "autoregressive")
KNOWN_TEXT_KWARGS = tuple(sorted((*_TEXT_NAMES, *_TEXT_EXTENSIONS, *_TEXT_IGNORED, "variant")))
DEFAULT_SEQ_LEN = 64  # SigLIP's released text towers


def text_transformer_kwargs(**kwargs):
    """big_vision `text_transformer` kwargs -> `TextTransformerBackbone` kwargs."""
    unknown = sorted(set(kwargs) - set(KNOWN_TEXT_KWARGS))
    if unknown:
        raise ValueError(
            f"Unknown text_transformer kwarg(s) {unknown}; expected some of {list(KNOWN_TEXT_KWARGS)}."
        )
    out = dict(hidden_dim=512, num_layers=12, intermediate_dim=2048, num_heads=8,
               vocabulary_size=32_000, pooling="last", sequence_length=DEFAULT_SEQ_LEN)
    if kwargs.get("variant"):
        sizes = decode_variant(kwargs["variant"])
        sizes.pop("patch_size", None)
        out.update(sizes)
    for bv_name, name in _TEXT_NAMES.items():
        if bv_name in kwargs:
            out[name] = kwargs[bv_name]
    for name in _TEXT_EXTENSIONS:
        if kwargs.get(name) is not None:
            out[name] = kwargs[name]
    return out


def resolve_text_transformer_kwargs(kwargs):
    """The "proj.image_text.text_transformer" kwargs resolver: `variant` ("B") -> width, depth, mlp_dim, num_heads.

    A falsy variant is ignored, as `text_transformer_kwargs` ignores it; a patch size in
    the variant is dropped.
    """
    kwargs = dict(kwargs)
    if not kwargs.get("variant"):
        kwargs.pop("variant", None)
        return kwargs
    return expand_variant(kwargs, with_patch_size=False)


@register_model("proj.image_text.text_transformer", resolve_kwargs=resolve_text_transformer_kwargs)
def build_text_transformer(**kwargs):
    """big_vision `text_transformer.Model(**kwargs)` as a `TextTransformerBackbone`.

    Accepts variant, width, depth, mlp_dim, num_heads, vocab_size, pool_type, dropout,
    num_classes (the head size) and seq_len (the fixed text length, default 64).

    Example:
        >>> build_text_transformer(variant="B", vocab_size=32_000, num_classes=768, seq_len=64)
    """
    return TextTransformerBackbone(**text_transformer_kwargs(**kwargs))


def _pair(out_dim):
    if isinstance(out_dim, (list, tuple)):
        if len(out_dim) != 2:
            raise ValueError(f"out_dim is an int, None or an (image, text) pair; got {out_dim!r}.")
        return tuple(out_dim)
    return (out_dim, out_dim)


def resolve_two_towers_kwargs(kwargs):
    """The "proj.image_text.two_towers" kwargs resolver: each tower's config resolved by its own model's resolver."""
    kwargs = dict(kwargs)
    defaults = inspect.signature(build_two_towers).parameters
    for tower, model_key in (("image", "image_model"), ("text", "text_model")):
        if kwargs.get(tower) is not None:
            model_name = kwargs.get(model_key, defaults[model_key].default)
            kwargs[tower] = resolve_model_kwargs(model_name, kwargs[tower])
    return kwargs


@register_model("proj.image_text.two_towers", resolve_kwargs=resolve_two_towers_kwargs,
                model_spec_kwargs=("image_init", "text_init"))
def build_two_towers(
    image=None,
    text=None,
    image_model="vit",
    text_model="proj.image_text.text_transformer",
    out_dim=128,
    temperature_init=1.0,
    bias_init=None,
    loss="auto",
    image_init=None,
    text_init=None,
    **kwargs,
):
    """big_vision `two_towers.Model(**kwargs)` as a `TwoTowerModel`.

    Each tower is built from its registry name and config with `num_classes`
    defaulting to its entry of `out_dim` (int, None or an (image, text) pair; None:
    no head), inside the name scopes "img" and "txt" (variable paths `img/...`,
    `txt/...` as in big_vision checkpoints).

    Args:
        image, text: tower configs (big_vision kwargs of `image_model` / `text_model`;
            the ViT also takes `image_size`, the text tower `seq_len`).
        image_model, text_model: registry names of the towers.
        out_dim: embedding size(s).
        temperature_init: initial exp(t).
        bias_init: initial b, or None (no bias).
        loss: "auto", "sigmoid", "sigmoid_chunked" or "softmax" (keras_vision extension).
        image_init, text_init: optional pre-trained towers (keras_vision extension, the
            role of big_vision's `config.model_init = {"img": ..., "txt": ...}`): loaded
            Keras models whose backbone weights (and head, when it fits) the towers get.
            In a recipe they are `keras_vision.loading.load_model` specs (a `.keras`
            file, big_vision `.npz`, run directory or preset), loaded by
            `keras_vision.loading.model_from_config`.

    Example:
        >>> build_two_towers(image=dict(variant="mu/8", pool_type="map", image_size=32),
        ...     text=dict(variant="mu", vocab_size=64, seq_len=16), out_dim=(None, 32),
        ...     temperature_init=10.0, bias_init=-10.0)
    """
    if kwargs:
        raise ValueError(
            f"Unknown two_towers kwarg(s) {sorted(kwargs)}; expected image, text, image_model, "
            "text_model, out_dim, temperature_init, bias_init, loss, image_init, text_init."
        )
    out_img, out_txt = _pair(out_dim)
    image_encoder = text_encoder = None
    if image is not None:
        cfg = dict(image)
        cfg.setdefault("num_classes", out_img)
        with keras.name_scope("img"):
            image_encoder = build_model(image_model, **cfg)
    if text is not None:
        cfg = dict(text)
        cfg.setdefault("num_classes", out_txt)
        with keras.name_scope("txt"):
            text_encoder = build_model(text_model, **cfg)
    if image_init and image_encoder is not None:
        load_tower_init(image_encoder, image_init)
    if text_init and text_encoder is not None:
        load_tower_init(text_encoder, text_init)
    return TwoTowerModel(
        image_encoder,
        text_encoder,
        temperature_init=temperature_init,
        bias_init=bias_init,
        loss=loss,
    )
