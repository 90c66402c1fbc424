"""`build_model("proj.pali.pali", img=..., llm=...)`: a ViT + mT5 PaLI from big_vision-style kwargs."""

from keras_vision.models.pali.pali_backbone import PaLIBackbone
from keras_vision.models.pali.pali_seq2seq_lm import PaLISeq2SeqLM
from keras_vision.models.pali.paligemma_builder import with_image_tower
from keras_vision.models.registry import register_model
from keras_vision.models.vit.vit_builder import expand_variant

# mT5 sizes ("mT5: A massively multilingual pre-trained text-to-text transformer", Table 1
# and the released configs): width, depth (encoder = decoder), heads, head_dim, mlp_dim.
MT5_VARIANTS = {
    "mt5_small": dict(width=512, depth=8, num_heads=6, head_dim=64, mlp_dim=1024),
    "mt5_base": dict(width=768, depth=12, num_heads=12, head_dim=64, mlp_dim=2048),
    "mt5_large": dict(width=1024, depth=24, num_heads=16, head_dim=64, mlp_dim=2816),
    "mt5_xl": dict(width=2048, depth=24, num_heads=32, head_dim=64, mlp_dim=5120),
    "mt5_xxl": dict(width=4096, depth=24, num_heads=64, head_dim=64, mlp_dim=10240),
}
MT5_FIELDS = ("width", "depth", "num_heads", "head_dim", "mlp_dim", "vocab_size", "dropout")
_TO_BACKBONE = dict(width="hidden_dim", depth="num_layers", num_heads="num_heads", head_dim="head_dim",
                    mlp_dim="intermediate_dim", vocab_size="vocabulary_size", dropout="dropout_rate")


def expand_mt5_config(llm):
    """`llm` (a variant name, or a dict with "variant" and/or explicit fields) -> every mT5 field explicit.

    Example:
        >>> expand_mt5_config("mt5_large")["width"]
        1024
    """
    llm = {"variant": llm} if isinstance(llm, str) else dict(llm or {})
    variant = llm.pop("variant", None)
    unknown = sorted(set(llm) - set(MT5_FIELDS))
    if unknown:
        raise ValueError(f"Unknown PaLI llm field(s) {unknown}; expected among {MT5_FIELDS} (+ 'variant').")
    if variant is not None and variant not in MT5_VARIANTS:
        raise ValueError(f"Unknown mT5 variant {variant!r}; known: {sorted(MT5_VARIANTS)}.")
    out = {"vocab_size": 250_112, "dropout": 0.0, **MT5_VARIANTS.get(variant, {}), **llm}
    missing = [k for k in MT5_FIELDS if k not in out]
    if missing:
        raise ValueError(f"PaLI llm needs {missing} (or a variant among {sorted(MT5_VARIANTS)}); got {dict(llm)}.")
    return out


def pali_backbone_kwargs(img=None, llm=None, image_size=None, image_shape=None, dtype=None):
    """big_vision-style PaLI kwargs -> `PaLIBackbone` kwargs (the ViT's as for PaliGemma)."""
    kwargs = {_TO_BACKBONE[k]: v for k, v in expand_mt5_config(llm).items()}
    return with_image_tower(kwargs, img, image_size, image_shape, dtype)


def resolve_pali_kwargs(kwargs):
    """The kwargs resolver: img and llm variants expanded into explicit numbers (`register_model`)."""
    kwargs = dict(kwargs)
    if kwargs.get("img"):
        kwargs["img"] = expand_variant(kwargs["img"])
    if kwargs.get("llm") is not None:
        kwargs["llm"] = expand_mt5_config(kwargs["llm"])
    return kwargs


@register_model("proj.pali.pali", resolve_kwargs=resolve_pali_kwargs)
def build_pali(label_smoothing=0.0, **kwargs):
    """PaLI (ViT + mT5 encoder-decoder) as a `PaLISeq2SeqLM` (its `.backbone` is the `PaLIBackbone`).

    Example:
        >>> build_pali(img=dict(variant="G/14"), llm="mt5_large", image_size=224)  # PaLI-3B
    """
    return PaLISeq2SeqLM(PaLIBackbone(**pali_backbone_kwargs(**kwargs)), label_smoothing=label_smoothing)
