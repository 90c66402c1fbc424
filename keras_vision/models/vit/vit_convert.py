"""big_vision ViT checkpoints -> `ViTBackbone` / `ViTImageClassifier`.

`load_vit_params(backbone, params)` maps a big_vision ViT parameter sub-tree onto a
`ViTBackbone` (reused by the SigLIP and FlexiViT converters); the "vit" converter
registered here builds the model from the checkpoint (+ config) and loads it.
"""

import math


from keras_vision.convert.assign import assign_params
from keras_vision.convert.assign import variables_by_path
from keras_vision.convert.checkpoint import ConversionError
from keras_vision.convert.checkpoint import select_prefix
from keras_vision.convert.registry import register_converter
from keras_vision.convert.vit_layout import fix_legacy_vit
from keras_vision.convert.vit_layout import scan_to_pyloop
from keras_vision.layers.position_embedding import PositionEmbedding
from keras_vision.layers.posemb_utils import resample_posemb_align_corners
from keras_vision.models.vit.vit_builder import build_vit
from keras_vision.models.vit.vit_variants import decode_variant

# Keras variable path (relative to the backbone) -> big_vision name, where they differ.
_RENAMES = {"pos_embedding/embeddings": "pos_embedding", "cls/cls": "cls"}


def prepare_vit_params(params):
    """Legacy AugReg fixes + scan -> pyloop on a flat big_vision ViT dict (no prefix)."""
    params = dict(params)
    if "embedding/kernel" not in params and any(k.startswith("img/") for k in params):
        params = select_prefix(params, "img")  # a SigLIP / two-tower checkpoint, image tower
    return scan_to_pyloop(fix_legacy_vit(params))


def _backbone_scope(backbone):
    kernel_path = backbone.get_layer("embedding").kernel.path
    suffix = "embedding/kernel"
    if not kernel_path.endswith(suffix):
        raise ConversionError(f"Unexpected patch-embedding kernel path {kernel_path!r}.")
    return kernel_path[: -len(suffix)].rstrip("/")


def vit_variables(backbone):
    """{big_vision name: variable} of a `ViTBackbone` ("embedding/kernel", "pos_embedding", ...)."""
    return variables_by_path(backbone, scope=_backbone_scope(backbone), rename=_RENAMES)


def _resample_posemb(backbone, params):
    if "pos_embedding" not in params or not isinstance(backbone.get_layer("pos_embedding"), PositionEmbedding):
        return params
    table = params["pos_embedding"]
    grid = backbone.get_layer("pos_embedding").grid_size
    if table.ndim == 3 and table.shape[1] != grid[0] * grid[1]:
        side = math.isqrt(table.shape[1])
        if side * side != table.shape[1]:
            raise ConversionError(
                f"Cannot resample a position embedding of {table.shape[1]} entries (not a square grid) "
                f"to the model's {grid} grid."
            )
        params = {**params, "pos_embedding": resample_posemb_align_corners(table, grid)}
    return params


def load_vit_params(backbone, params, dont_load=(), strict=True):
    """Loads a big_vision ViT parameter sub-tree into a `ViTBackbone`.

    `params` is a flat {"embedding/kernel": array, "Transformer/encoderblock_0/...": ...}
    dict of one ViT (no "params/" or "img/" prefix); legacy AugReg names and scan
    layouts are converted, and a learned position embedding is resampled
    (align-corners bilinear, as big_vision's `vit.resample_posemb`) when its grid differs
    from the backbone's.

    Args:
        backbone: a built `ViTBackbone` (or a model with the same layer names).
        params: flat dict of arrays.
        dont_load: regexes (fullmatch on big_vision names) of parameters to keep at init.
        strict: if True, parameters the backbone does not take raise; if False they are
            returned (e.g. "head/kernel" for the caller to load).

    Returns:
        {name: array} of the unused parameters (empty when strict).
    """
    params = _resample_posemb(backbone, prepare_vit_params(params))
    variables = vit_variables(backbone)
    unused = {}
    if not strict:
        unused = {k: v for k, v in params.items() if k not in variables}
        params = {k: v for k, v in params.items() if k in variables}
    assign_params(variables, params, dont_load=dont_load, what=type(backbone).__name__)
    return unused


def load_vit_classifier_params(model, params, dont_load=()):
    """Loads a big_vision `vit.Model(num_classes=...)` param dict into a `ViTImageClassifier`."""
    params = _resample_posemb(model.backbone, prepare_vit_params(params))
    variables = {**vit_variables(model.backbone), "head/kernel": model.head.kernel, "head/bias": model.head.bias}
    assign_params(variables, params, dont_load=dont_load, what=type(model).__name__)


def infer_vit_kwargs(params):
    """big_vision `vit.Model` kwargs read off a (prepared) ViT checkpoint.

    width, depth, mlp_dim, num_heads, patch_size, pool_type ("map" / "tok" / else
    "gap", which cannot be told from "0"), posemb, rep_size, num_classes, image_size
    (from a learned square posemb), and the extensions use_bias, qk_norm, block_type.
    """
    if "embedding/kernel" not in params:
        raise ConversionError(
            f"Not a big_vision ViT checkpoint: no 'embedding/kernel' among {sorted(params)[:20]}... "
            "(pass prefix=... for a sub-tree)."
        )
    kernel = params["embedding/kernel"]
    depth = len({k.split("/")[1] for k in params if k.startswith("Transformer/encoderblock_")})
    attention = "Transformer/encoderblock_0/MultiHeadDotProductAttention_0"
    kw = dict(
        width=int(kernel.shape[-1]),
        depth=depth,
        patch_size=(int(kernel.shape[0]), int(kernel.shape[1])),
        pool_type="map" if any(k.startswith("MAPHead_0/") for k in params) else "tok" if "cls" in params else "gap",
        posemb="learn" if "pos_embedding" in params else "sincos2d",
    )
    if depth:
        kw["num_heads"] = int(params[f"{attention}/query/kernel"].shape[1])
        kw["mlp_dim"] = int(params["Transformer/encoderblock_0/MlpBlock_0/Dense_0/kernel"].shape[1])
        if f"{attention}/query/bias" not in params:
            kw["use_bias"] = False
        if f"{attention}/query_ln/scale" in params:
            kw["qk_norm"] = True
        if "Transformer/encoderblock_0/LayerNorm_1/scale" not in params:
            kw["block_type"] = "parallel"
    if "pre_logits/kernel" in params:
        kw["rep_size"] = int(params["pre_logits/kernel"].shape[1])
    if "head/kernel" in params:
        kw["num_classes"] = int(params["head/kernel"].shape[1])
    if "pos_embedding" in params:
        side = math.isqrt(params["pos_embedding"].shape[1])
        if side * side == params["pos_embedding"].shape[1]:
            kw["image_size"] = (side * kw["patch_size"][0], side * kw["patch_size"][1])
    return kw


def converter_model_kwargs(params, config=None, image_shape=None, image_size_from_checkpoint=True,
                           any_resolution=False):
    """Model kwargs for a ViT-family converter: `infer_vit_kwargs(params)` overridden by `config`.

    A `variant` in `config` replaces the inferred sizes; `image_shape` (if given) wins
    over `config`'s image_size. The resolution is read off a learned square position
    embedding only with `image_size_from_checkpoint` and when neither sets one; with
    `any_resolution` and none of the three, the model is built for images of any size:
    image_shape (None, None, channels of the checkpoint's kernel).

    Args:
        params: flat, prepared (`prepare_vit_params`) big_vision ViT dict.
        config: big_vision `config.model` dict, or None.
        image_shape: optional (h, w, c).
        image_size_from_checkpoint: bool (False for FlexiViT: its stored grid says
            nothing about the resolution).
        any_resolution: bool, whether the model's weights allow any image size
            (a sincos2d ViT, a FlexiViT).
    """
    config = dict(config or {})
    inferred = infer_vit_kwargs(params)
    if config.get("variant"):
        decoded = decode_variant(config["variant"])
        for bv_name, name in (("width", "hidden_dim"), ("depth", "num_layers"), ("mlp_dim", "intermediate_dim"),
                              ("num_heads", "num_heads"), ("patch_size", "patch_size")):
            if name in decoded:
                inferred.pop(bv_name, None)
    if (not image_size_from_checkpoint or image_shape is not None
            or "image_shape" in config or "image_size" in config):
        inferred.pop("image_size", None)
    if image_shape is not None:
        config.pop("image_size", None)
        config["image_shape"] = tuple(image_shape)
    kwargs = {**inferred, **config}
    if any_resolution and not any(k in kwargs for k in ("image_size", "image_shape")):
        kwargs["image_shape"] = (None, None, int(params["embedding/kernel"].shape[2]))
    return kwargs


def load_vit_model_params(model, params, dont_load=()):
    """Loads a big_vision ViT param dict into a classifier (`backbone` + `head`) or a backbone.

    Returns `model`.
    """
    backbone = getattr(model, "backbone", model)
    if backbone is not model and getattr(model, "head", None) is not None:
        load_vit_classifier_params(model, params, dont_load=dont_load)
    else:
        load_vit_params(backbone, params, dont_load=dont_load, strict=True)
    return model


@register_converter("vit")
def convert_vit(params, config=None, image_shape=None, dont_load=(), **kwargs):
    """The "vit" converter of `keras_vision.convert.load_big_vision`.

    Model kwargs = what the checkpoint shows (`infer_vit_kwargs`), overridden by
    `config` (big_vision `config.model`; a `variant` there replaces the inferred sizes).
    The resolution: `image_shape`, else config's image_size / image_shape, else the
    learned position embedding's grid; a sincos2d ViT with none of them is built for
    images of any size (image_shape (None, None, C)), as big_vision runs it.
    """
    if kwargs:
        raise ValueError(f"Unknown option(s) {sorted(kwargs)} for the 'vit' converter; expected dont_load.")
    params = prepare_vit_params(params)
    posemb = {**infer_vit_kwargs(params), **dict(config or {})}.get("posemb", "learn")
    model = build_vit(**converter_model_kwargs(params, config, image_shape, any_resolution=posemb == "sincos2d"))
    return load_vit_model_params(model, params, dont_load=dont_load)
