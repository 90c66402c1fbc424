"""`build_model("proj.paligemma.paligemma", img=..., llm=...)`: big_vision PaliGemma kwargs -> Keras models."""

from keras_vision.models.pali.gemma_variants import RUN_FIELDS
from keras_vision.models.pali.gemma_variants import expand_gemma_config
from keras_vision.models.pali.gemma_variants import gemma_backbone_kwargs
from keras_vision.models.pali.paligemma_backbone import PaliGemmaBackbone
from keras_vision.models.pali.paligemma_causal_lm import PaliGemmaCausalLM
from keras_vision.models.registry import register_model
from keras_vision.models.vit.vit_builder import expand_variant
from keras_vision.models.vit.vit_builder import vit_backbone_kwargs

IMG_MODELS = ("vit",)
LLM_MODELS = ("proj.paligemma.gemma_bv", "ppp.gemma")
# ViTBackbone arg -> PaliGemmaBackbone arg.
_VIT_ARGS = {
    "image_shape": "image_shape",
    "patch_size": "vit_patch_size",
    "hidden_dim": "vit_hidden_dim",
    "num_layers": "vit_num_layers",
    "num_heads": "vit_num_heads",
    "intermediate_dim": "vit_intermediate_dim",
    "position_embedding": "vit_position_embedding",
    "dropout_rate": "vit_dropout_rate",
}
# ViT extensions PaliGemma's image tower does not take, with the value that is fine.
_VIT_DEFAULTS = {"block_type": "sequential", "qk_norm": False, "use_bias": True, "layer_norm_epsilon": 1e-6,
                 "stochastic_depth_rate": 0.0, "representation_size": None}


def image_kwargs(img, width, image_size=None, image_shape=None):
    """big_vision "vit" kwargs of a PaLI-family image tower -> (the backbones' `vit_*` kwargs, dtype)."""
    img = dict(img or {})
    pool_type = img.pop("pool_type", "none")
    if pool_type != "none":
        raise ValueError(f"The PaLI/PaliGemma image tower needs pool_type 'none' (one token per patch), got {pool_type!r}.")
    num_classes = img.pop("num_classes", width)
    if num_classes != width:
        raise ValueError(
            f"The image head maps to the language model's width {width}, but img num_classes is {num_classes!r}."
        )
    img.pop("head_zeroinit", None)  # an initialiser choice; the head starts at zero as big_vision's default
    if image_size is not None or image_shape is not None:
        if "image_size" in img or "image_shape" in img:
            raise ValueError("Give the image size once: at the top level or in img, not both.")
        img["image_shape" if image_shape is not None else "image_size"] = (
            tuple(image_shape) if image_shape is not None else image_size
        )
    vit, _ = vit_backbone_kwargs(**img)
    dtype = vit.pop("dtype", None)
    for name, fine in _VIT_DEFAULTS.items():
        if vit.get(name, fine) != fine:
            raise ValueError(f"The PaLI/PaliGemma image tower does not support {name}={vit[name]!r} (only {fine!r}).")
        vit.pop(name, None)
    vit.pop("pooling", None)
    return {_VIT_ARGS[k]: v for k, v in vit.items()}, dtype


def paligemma_backbone_kwargs(img=None, llm=None, img_model="vit", llm_model="proj.paligemma.gemma_bv",
                              image_size=None, image_shape=None, dtype=None):
    """big_vision `paligemma.Model` kwargs -> `PaliGemmaBackbone` kwargs.

    `llm` takes a big_vision Gemma variant ("gemma_2b", "gemma2_2b", "gemma2_9b", ...)
    and/or the explicit fields (width, depth, mlp_dim, num_heads, num_kv_heads,
    head_dim, vocab_size, final_logits_softcap, attn_logits_softcap, post_norms,
    query_pre_attn_norm, dropout); `img` the "vit" kwargs (variant, posemb, ...).
    big_vision's ViT has no fixed resolution; give image_size (img or top level,
    default 224) or image_shape.
    """
    if img_model not in IMG_MODELS:
        raise ValueError(f"PaliGemma supports img_model in {IMG_MODELS}, got {img_model!r}.")
    if llm_model not in LLM_MODELS:
        raise ValueError(f"PaliGemma supports llm_model in {LLM_MODELS}, got {llm_model!r}.")
    return with_image_tower(gemma_backbone_kwargs(expand_gemma_config(llm)), img, image_size, image_shape, dtype)


def with_image_tower(kwargs, img, image_size=None, image_shape=None, dtype=None):
    """Backbone kwargs of the language model (`hidden_dim` set) + the image tower's `vit_*` kwargs and dtype."""
    vit, vit_dtype = image_kwargs(img, kwargs["hidden_dim"], image_size, image_shape)
    kwargs = {**kwargs, **vit}
    dtype = dtype if dtype is not None else vit_dtype
    if dtype is not None:
        kwargs["dtype"] = dtype
    return kwargs


def resolve_paligemma_kwargs(kwargs):
    """The kwargs resolver: img and llm variants expanded into explicit numbers (`register_model`)."""
    kwargs = dict(kwargs)
    if kwargs.get("img"):
        kwargs["img"] = expand_variant(kwargs["img"])
    if kwargs.get("llm") is not None:
        llm = {"variant": kwargs["llm"]} if isinstance(kwargs["llm"], str) else dict(kwargs["llm"])
        explicit = expand_gemma_config(llm)
        kept = {k: v for k, v in llm.items() if k in RUN_FIELDS}
        kwargs["llm"] = {**kept, **explicit}
    return kwargs


@register_model("proj.paligemma.paligemma", resolve_kwargs=resolve_paligemma_kwargs)
def build_paligemma(label_smoothing=0.0, **kwargs):
    """big_vision `paligemma.Model(**kwargs)` as a `PaliGemmaCausalLM` (its `.backbone` is the `PaliGemmaBackbone`).

    Example:
        >>> build_paligemma(img=dict(variant="mu/8", pool_type="none"), llm=dict(variant="gemma_2b"),
        ...                 image_size=224)
    """
    return PaliGemmaCausalLM(PaliGemmaBackbone(**paligemma_backbone_kwargs(**kwargs)), label_smoothing=label_smoothing)
