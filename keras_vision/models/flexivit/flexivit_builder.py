"""`build_model("proj.flexi.vit", **big_vision_kwargs)`: big_vision FlexiViT kwargs -> Keras models."""

from keras_vision.sizes import to_pair
from keras_vision.models.flexivit.flexivit_backbone import FlexiViTBackbone
from keras_vision.models.flexivit.flexivit_image_classifier import FlexiViTImageClassifier
from keras_vision.models.registry import register_model
from keras_vision.models.vit.vit_builder import resolve_vit_kwargs
from keras_vision.models.vit.vit_builder import vit_backbone_kwargs
from keras_vision.models.vit.vit_builder import with_head

# big_vision `proj.flexi.vit` defaults that differ from `vit`.
FLEXI_DEFAULTS = dict(patch_size=(32, 32), posemb_size=(7, 7), pool_type="gap", image_size=240)


def flexivit_kwargs(**kwargs):
    """big_vision `proj.flexi.vit` kwargs -> (FlexiViTBackbone kwargs, head kwargs).

    big_vision's `patch_size` is where the kernel is stored: keras_vision's
    `base_patch_size` (in keras_vision `patch_size` always means the size images are
    cut into, the run size); `seqhw` (tokens per side) picks the patch size the model
    runs at, `image_size // seqhw`, default the stored size. `image_shape=(None, None, C)`
    builds a model for any image size (then without `seqhw`, which needs a resolution). `posemb_size` is the stored
    position-embedding grid. Everything else is read as for "vit" (variant, width,
    depth, mlp_dim, num_heads, posemb, pool_type, num_classes, head_zeroinit,
    init_head_bias, image_size/image_shape, dtype_mm and the extensions).
    """
    kwargs = dict(kwargs)
    posemb_size = kwargs.pop("posemb_size", FLEXI_DEFAULTS["posemb_size"])
    seqhw = kwargs.pop("seqhw", None)
    antialias = kwargs.pop("position_embedding_antialias", True)
    if "image_size" not in kwargs and "image_shape" not in kwargs:
        kwargs["image_size"] = FLEXI_DEFAULTS["image_size"]
    kwargs.setdefault("pool_type", FLEXI_DEFAULTS["pool_type"])
    variant = kwargs.get("variant") or ""
    if "patch_size" not in kwargs and "/" not in variant:
        kwargs["patch_size"] = FLEXI_DEFAULTS["patch_size"]
    backbone, head = vit_backbone_kwargs(**kwargs)
    base = to_pair(backbone.pop("patch_size"), "patch_size")
    image_h, image_w = backbone["image_shape"][:2]
    if seqhw is None:
        patch = base
    elif image_h is None or image_w is None:
        raise ValueError(
            f"seqhw={seqhw!r} fixes the token grid, which needs a fixed image size; got image_shape "
            f"{backbone['image_shape']}. Give image_size, or drop seqhw for a model of any resolution."
        )
    else:
        seq_h, seq_w = to_pair(seqhw, "seqhw")
        patch = (image_h // seq_h, image_w // seq_w)
    backbone.update(
        patch_size=patch,
        base_patch_size=base,
        posemb_grid_size=to_pair(posemb_size, "posemb_size"),
        position_embedding_antialias=antialias,
    )
    return backbone, head


@register_model("proj.flexi.vit", "flexivit", resolve_kwargs=resolve_vit_kwargs)
def build_flexivit(**kwargs):
    """big_vision `proj.flexi.vit.Model(**kwargs)` as Keras: `FlexiViTImageClassifier` or `FlexiViTBackbone`.

    Example:
        >>> build_flexivit(variant="mu", patch_size=(8, 8), posemb_size=(4, 4),
        ...                pool_type="tok", num_classes=10, image_size=32, seqhw=4)
    """
    backbone_kwargs, head = flexivit_kwargs(**kwargs)
    return with_head(FlexiViTBackbone(**backbone_kwargs), head, FlexiViTImageClassifier)
