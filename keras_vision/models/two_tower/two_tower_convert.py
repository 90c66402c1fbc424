"""big_vision two-tower checkpoints (SigLIP, LiT) -> `TwoTowerModel`.

Keys `img/...` (a big_vision ViT), `txt/...` (text_transformer), `t` (log temperature)
and optional `b`, with or without the `params/` prefix (`load_big_vision` strips it).
"""

import numpy as np

from keras_vision.convert.assign import assign_params
from keras_vision.convert.assign import variables_by_path
from keras_vision.convert.checkpoint import ConversionError
from keras_vision.convert.checkpoint import select_prefix
from keras_vision.convert.registry import register_converter
from keras_vision.convert.vit_layout import scan_to_pyloop
from keras_vision.models.two_tower.two_tower_builder import build_two_towers
from keras_vision.models.vit.vit_convert import infer_vit_kwargs
from keras_vision.models.vit.vit_convert import load_vit_classifier_params
from keras_vision.models.vit.vit_convert import load_vit_params
from keras_vision.models.vit.vit_convert import prepare_vit_params

# Keras variable path (relative to the text tower) -> big_vision name, where they differ.
TEXT_RENAMES = {"Embed_0/embeddings": "Embed_0/embedding", "pos_embedding/embeddings": "pos_embedding"}


def prepare_text_params(params):
    """Scan -> pyloop and the legacy `Encoder_0/pos_embedding` of old text towers.

    Old text towers kept the position embedding inside the encoder; big_vision's
    loader moves it to the top level (added to a top-level one if both exist,
    since both were added to the tokens; unverified against such a checkpoint).
    """
    params = scan_to_pyloop(dict(params))
    legacy = params.pop("Encoder_0/pos_embedding", None)
    if legacy is not None:
        params["pos_embedding"] = legacy if "pos_embedding" not in params else params["pos_embedding"] + legacy
    return params


def infer_text_kwargs(params):
    """big_vision `text_transformer` kwargs (+ seq_len) read off a prepared text tower."""
    if "Embed_0/embedding" not in params:
        raise ConversionError(
            f"Not a big_vision text_transformer: no 'Embed_0/embedding' among {sorted(params)[:20]}..."
        )
    vocab, width = params["Embed_0/embedding"].shape
    blocks = {k.split("/")[1] for k in params if k.startswith("Encoder_0/encoderblock_")}
    kw = dict(vocab_size=int(vocab), width=int(width), depth=len(blocks))
    attention = "Encoder_0/encoderblock_0/MultiHeadDotProductAttention_0"
    if blocks:
        kw["num_heads"] = int(params[f"{attention}/query/kernel"].shape[1])
        kw["mlp_dim"] = int(params["Encoder_0/encoderblock_0/MlpBlock_0/Dense_0/kernel"].shape[1])
    if "pos_embedding" in params:
        kw["seq_len"] = int(params["pos_embedding"].shape[1])
    if any(k.startswith("MAPHead_0/") for k in params):
        kw["pool_type"] = "map"
    kw["num_classes"] = int(params["head/kernel"].shape[1]) if "head/kernel" in params else None
    return kw


def load_text_transformer_params(backbone, params, dont_load=()):
    """Loads a big_vision text_transformer sub-tree (no `txt/` prefix) into a `TextTransformerBackbone`."""
    params = prepare_text_params(params)
    scope = backbone.get_layer("Embed_0").embeddings.path[: -len("Embed_0/embeddings")].rstrip("/")
    variables = variables_by_path(backbone, scope=scope, rename=TEXT_RENAMES)
    assign_params(variables, params, dont_load=dont_load, what=type(backbone).__name__)


@register_converter("proj.image_text.two_towers")
def convert_two_towers(params, config=None, image_shape=None, dont_load=(), **kwargs):
    """The "proj.image_text.two_towers" converter of `keras_vision.convert.load_big_vision`.

    Tower sizes, heads, text length and the presence of `b` are read from the
    checkpoint; `config` (big_vision `config.model`: image=..., text=..., out_dim,
    ...) overrides them (a `variant` replaces the inferred sizes).

    Args:
        params: flat {name: array} without "params/".
        config: big_vision two_towers kwargs.
        image_shape: optional (h, w, c) for the image tower (posemb resampled).
        dont_load: regexes (fullmatch on big_vision names, e.g. "img/head/.*") kept at init.

    Returns:
        A `TwoTowerModel`.
    """
    if kwargs:
        raise ValueError(f"Unknown option(s) {sorted(kwargs)} for the two_towers converter; expected dont_load.")
    config = dict(config or {})
    tops = {k.split("/", 1)[0] for k in params}
    unexpected = sorted(tops - {"img", "txt", "t", "b"})
    if unexpected:
        raise ConversionError(
            f"Not a two-tower checkpoint: unexpected top-level names {unexpected} (expected img, txt, t, b)."
        )
    if "t" not in params:
        raise ConversionError("Two-tower checkpoint has no 't' (log temperature).")

    img = prepare_vit_params(select_prefix(params, "img")) if "img" in tops else None
    txt = prepare_text_params(select_prefix(params, "txt")) if "txt" in tops else None
    image_model = config.get("image_model", "vit")
    text_model = config.get("text_model", "proj.image_text.text_transformer")
    if image_model != "vit" or text_model != "proj.image_text.text_transformer":
        raise ConversionError(
            f"The two_towers converter handles image_model='vit' and text_model="
            f"'proj.image_text.text_transformer', got {image_model!r} / {text_model!r}."
        )

    image_cfg = text_cfg = None
    if img is not None:
        image_cfg = _merge(infer_vit_kwargs(img), config.get("image"), ("width", "depth", "mlp_dim", "num_heads", "patch_size"))
        if image_shape is not None:
            image_cfg.pop("image_size", None)
            image_cfg["image_shape"] = tuple(image_shape)
        elif "image_shape" in (config.get("image") or {}):
            image_cfg.pop("image_size", None)
        image_cfg.setdefault("num_classes", None)
        if image_cfg.get("num_classes"):
            image_cfg.setdefault("head_zeroinit", False)
    if txt is not None:
        text_cfg = _merge(infer_text_kwargs(txt), config.get("text"), ("width", "depth", "mlp_dim", "num_heads"))
    t = np.asarray(params["t"], np.float32).reshape(-1)
    b = None if "b" not in params else np.asarray(params["b"], np.float32).reshape(-1)
    model = build_two_towers(
        image=image_cfg,
        text=text_cfg,
        out_dim=(None, None),
        temperature_init=float(np.exp(t[0])),
        bias_init=None if b is None else float(b[0]),
        loss=config.get("loss", "auto"),
    )
    img_dont = [p[len("img/"):] for p in dont_load if p.startswith("img/")]
    txt_dont = [p[len("txt/"):] for p in dont_load if p.startswith("txt/")]
    if img is not None:
        encoder = model.image_encoder
        if getattr(encoder, "head", None) is not None and hasattr(encoder, "backbone"):
            load_vit_classifier_params(encoder, img, dont_load=img_dont)
        else:
            load_vit_params(encoder, img, dont_load=img_dont, strict=True)
    if txt is not None:
        load_text_transformer_params(model.text_encoder, txt, dont_load=txt_dont)
    scalars = {"t": model.t}
    if model.b is not None:
        scalars["b"] = model.b
    given = {k: np.asarray(params[k], np.float32).reshape(1) for k in ("t", "b") if k in params}
    assign_params(scalars, given, dont_load=dont_load, what="TwoTowerModel")
    return model


def _merge(inferred, given, size_keys):
    """Checkpoint-inferred kwargs overridden by the user's; a variant drops inferred sizes."""
    given = dict(given or {})
    out = dict(inferred)
    if given.get("variant"):
        for k in size_keys:
            out.pop(k, None)
    out.update(given)
    return out
