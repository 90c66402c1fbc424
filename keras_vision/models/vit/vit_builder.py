"""`build_model("vit", **big_vision_kwargs)`: big_vision `vit.Model` kwargs -> Keras ViT models."""

from keras_vision.models.registry import register_model
from keras_vision.models.vit.vit_backbone import ViTBackbone
from keras_vision.models.vit.vit_image_classifier import ViTImageClassifier
from keras_vision.models.vit.vit_variants import decode_variant

# big_vision `vit.Model` kwarg -> ViTBackbone arg.
_BACKBONE_NAMES = {
    "width": "hidden_dim",
    "depth": "num_layers",
    "mlp_dim": "intermediate_dim",
    "num_heads": "num_heads",
    "patch_size": "patch_size",
    "pool_type": "pooling",
    "posemb": "position_embedding",
    "dropout": "dropout_rate",
}
# Extensions (not in big_vision's ViT), under their keras_vision names.
_EXTENSIONS = ("block_type", "qk_norm", "use_bias", "layer_norm_epsilon", "stochastic_depth_rate")
# big_vision kwargs that change how it runs, not what it computes.
_IGNORED = ("scan", "remat_policy")
_OTHER = ("variant", "num_classes", "head_zeroinit", "init_head_bias", "rep_size", "dtype_mm", "dtype",
          "image_size", "image_shape")
KNOWN_VIT_KWARGS = tuple(sorted((*_BACKBONE_NAMES, *_EXTENSIONS, *_IGNORED, *_OTHER)))

_DTYPE_MM = {"float32": None, "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}


def _image_shape(image_size, image_shape):
    if image_shape is not None:
        if image_size is not None:
            raise ValueError("Pass image_size or image_shape, not both.")
        return tuple(image_shape)
    size = 224 if image_size is None else image_size
    if isinstance(size, int):
        return (size, size, 3)
    size = tuple(size)
    return size if len(size) == 3 else (*size, 3)


def vit_backbone_kwargs(**kwargs):
    """Translates big_vision `vit.Model` kwargs into `ViTBackbone` kwargs (+ the head kwargs).

    Returns:
        (backbone_kwargs, head_kwargs) where head_kwargs has num_classes,
        head_zeroinit, init_head_bias.
    """
    unknown = sorted(set(kwargs) - set(KNOWN_VIT_KWARGS))
    if unknown:
        raise ValueError(f"Unknown ViT model kwarg(s) {unknown}; expected some of {list(KNOWN_VIT_KWARGS)}.")
    kw = {**decode_variant(kwargs.get("variant")), **{k: v for k, v in kwargs.items() if k != "variant"}}
    backbone = {}
    for bv_name, name in _BACKBONE_NAMES.items():
        if bv_name in kwargs:
            backbone[name] = kwargs[bv_name]
        elif name in kw:  # from the variant
            backbone[name] = kw[name]
    backbone.setdefault("hidden_dim", 768)
    backbone.setdefault("num_layers", 12)
    backbone.setdefault("num_heads", 12)
    backbone.setdefault("patch_size", 16)
    if isinstance(backbone["patch_size"], (list, tuple)):
        backbone["patch_size"] = tuple(backbone["patch_size"])
    for name in _EXTENSIONS:
        if name in kwargs:
            backbone[name] = kwargs[name]
    rep_size = kwargs.get("rep_size", False)
    if rep_size is True:
        backbone["representation_size"] = int(backbone["hidden_dim"])
    elif rep_size:
        backbone["representation_size"] = int(rep_size)
    backbone["image_shape"] = _image_shape(kwargs.get("image_size"), kwargs.get("image_shape"))
    dtype = kwargs.get("dtype")
    if dtype is None and kwargs.get("dtype_mm") is not None:
        if kwargs["dtype_mm"] not in _DTYPE_MM:
            raise ValueError(f"Unknown dtype_mm {kwargs['dtype_mm']!r}; expected one of {list(_DTYPE_MM)}.")
        dtype = _DTYPE_MM[kwargs["dtype_mm"]]
    if dtype is not None:
        backbone["dtype"] = dtype
    head = {
        "num_classes": kwargs.get("num_classes"),
        "head_zeroinit": kwargs.get("head_zeroinit", True),
        "init_head_bias": kwargs.get("init_head_bias", 0.0) or 0.0,
    }
    return backbone, head


# decode_variant's size name -> the big_vision kwarg a resolved config stores it under.
_VARIANT_KWARGS = {"hidden_dim": "width", "num_layers": "depth", "intermediate_dim": "mlp_dim",
                   "num_heads": "num_heads", "patch_size": "patch_size"}


def expand_variant(kwargs, with_patch_size=True):
    """big_vision model kwargs with `variant` ("S/16") replaced by width, depth, mlp_dim, num_heads, patch_size.

    Explicit kwargs win over the variant's numbers; `with_patch_size=False` drops the
    variant's patch size (text towers). Without a variant, `kwargs` come back unchanged.

    Example:
        >>> expand_variant({"variant": "S/16", "patch_size": 8, "pool_type": "map"})
        {'width': 384, 'depth': 12, 'mlp_dim': 1536, 'num_heads': 6, 'patch_size': 8, 'pool_type': 'map'}
    """
    kwargs = dict(kwargs)
    if "variant" not in kwargs:
        return kwargs
    variant = kwargs.pop("variant")
    sizes = {_VARIANT_KWARGS[k]: v for k, v in decode_variant(variant).items()
             if with_patch_size or k != "patch_size"}
    return {**sizes, **kwargs}


def resolve_vit_kwargs(kwargs):
    """The "vit" kwargs resolver: `variant` expanded into explicit sizes (`register_model`'s resolve_kwargs)."""
    return expand_variant(kwargs)


@register_model("vit", resolve_kwargs=resolve_vit_kwargs)
def build_vit(**kwargs):
    """big_vision `vit.Model(**kwargs)` as Keras: a `ViTImageClassifier` if num_classes, else a `ViTBackbone`.

    Accepts big_vision's names (variant, width, depth, mlp_dim, num_heads, patch_size,
    posemb, rep_size, dropout, pool_type, num_classes, head_zeroinit, scan, remat_policy,
    dtype_mm), plus image_size (int or (h, w); default 224) or image_shape (h, w, c),
    init_head_bias, dtype and the extensions block_type, qk_norm, use_bias,
    layer_norm_epsilon, stochastic_depth_rate.

    Example:
        >>> build_vit(variant="mu/8", pool_type="map", num_classes=10, image_size=32)
    """
    backbone_kwargs, head = vit_backbone_kwargs(**kwargs)
    return with_head(ViTBackbone(**backbone_kwargs), head, ViTImageClassifier)


def with_head(backbone, head, classifier_cls):
    """`classifier_cls(backbone, **head)`, or `backbone` alone when `head["num_classes"]` is falsy.

    `head` is the head dict of `vit_backbone_kwargs` (num_classes, head_zeroinit, init_head_bias).
    """
    if not head["num_classes"]:
        return backbone
    return classifier_cls(backbone, **head)
