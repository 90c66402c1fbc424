"""Ready sharding rule sets per model family at three levels: data, fsdp, fsdp_tp."""

from keras_vision.api_export import keras_vision_export
from keras_vision.config import ConfigError

LEVELS = ("data", "fsdp", "fsdp_tp")
# Registry model name -> rule family.
FAMILIES = {
    "vit": "vit",
    "proj.flexi.vit": "flexivit",
    "flexivit": "flexivit",
    "proj.image_text.two_towers": "two_towers",
    "proj.image_text.text_transformer": "vit",
    "proj.paligemma.paligemma": "paligemma",
}
KNOWN_FAMILIES = ("vit", "flexivit", "two_towers", "paligemma")

# ViT-22B ("Scaling Vision Transformers to 22 Billion Parameters", Table 1): parallel
# block, QK-norm, no QKV biases. ViTBackbone kwargs; 22.2B parameters with a MAP head.
VIT_22B = dict(hidden_dim=6144, num_layers=48, intermediate_dim=24576, num_heads=48, patch_size=14,
               block_type="parallel", qk_norm=True, use_bias=False, pooling="map", image_shape=(224, 224, 3))

_ATTN = r"(.*/)?MultiHeadDotProductAttention_\d+"
_MLP = r"(.*/)?MlpBlock_\d+"


def _tensor_parallel(model_axis, fsdp):
    """Megatron-style: q/k/v and MLP-in split their output (heads / hidden units) over
    `model_axis`, attention-out and MLP-out split their input, so each block needs one
    reduction per matmul pair; the remaining large dimension is FSDP-sharded on data."""
    m = model_axis
    return [
        (rf"{_ATTN}/(query|key|value)/kernel", [(None, m, None), fsdp]),
        (rf"{_ATTN}/(query|key|value)/bias", (m, None)),
        (rf"{_ATTN}/out/kernel", [(m, None, None), fsdp]),
        (rf"{_MLP}/Dense_0/kernel", [(None, m), fsdp]),
        (rf"{_MLP}/Dense_0/bias", (m,)),
        (rf"{_MLP}/Dense_1/kernel", [(m, None), fsdp]),
    ]


_GEMMA = r"(.*/)?layers_\d+"


def _gemma_tensor_parallel(model_axis, fsdp):
    """Gemma blocks (big_vision names): query heads and the GeGLU hidden units on `model_axis`.

    q_einsum (N, D, H) / qkv_einsum (3, N, D, H) split heads N, attn_vec_einsum (N, H, D)
    its input heads, gating_einsum (2, D, F) and linear (F, D) the hidden units F. The
    key/value heads (kv_einsum (2, K, D, H)) stay unsplit on the model axis: PaliGemma's
    Gemma has K = 1 (multi-query), which cannot be split; they are FSDP-sharded only.
    """
    m = model_axis
    return [
        (rf"{_GEMMA}/attn/q_einsum", [(m, None, None), fsdp]),
        (rf"{_GEMMA}/attn/qkv_einsum", [(None, m, None, None), fsdp]),
        (rf"{_GEMMA}/attn/attn_vec_einsum", [(m, None, None), fsdp]),
        (rf"{_GEMMA}/mlp/gating_einsum", [(None, None, m), fsdp]),
        (rf"{_GEMMA}/mlp/linear", [(m, None), fsdp]),
    ]


@keras_vision_export("keras_vision.distribution.sharding_rules")
def sharding_rules(family="vit", level="fsdp", data_axis="data", model_axis="model", min_size_to_shard_mb=4):
    """The ready `[(regex, spec)]` rule set of a model family at a parallelism level.

    Levels: "data" replicates every variable (pure data parallelism); "fsdp" shards each
    variable's largest dimension divisible by the data axis (big_vision's
    `sharding_strategy=[(".*", "fsdp(axis='data')")]`); "fsdp_tp" adds Megatron-style
    tensor parallelism on `model_axis` (attention heads and MLP hidden units) on top of
    FSDP on `data_axis`, the layout that lets a ViT-22B-scale model train when its
    parameters and optimizer state exceed one device. Family differences: FlexiViT keeps
    the patch-embedding kernel and position embedding replicated (they are resized every
    step); two-tower models use the ViT rules for both towers (paths `img/...`, `txt/...`);
    PaliGemma uses them for its ViT (`img/...`) and splits the Gemma decoder's query heads
    and MLP hidden units (`llm/layers_N/...`) on `model_axis`.

    Args:
        family: "vit", "flexivit", "two_towers", "paligemma", or a registry model name.
        level: "data", "fsdp" or "fsdp_tp".
        data_axis, model_axis: mesh axis names.
        min_size_to_shard_mb: FSDP leaves smaller variables replicated (big_vision: 4).

    Example:
    >>> config.mesh = [("data", 2), ("model", 4)]
    >>> config.sharding_strategy = sharding_rules("vit", "fsdp_tp")
    """
    family = FAMILIES.get(family, family)
    if family not in KNOWN_FAMILIES:
        raise ConfigError(f"No ready sharding rules for family {family!r}; known: {', '.join(KNOWN_FAMILIES)} "
                          f"(or registry names {sorted(FAMILIES)}). Write config.sharding_strategy instead.")
    if level not in LEVELS:
        raise ConfigError(f"Unknown sharding level {level!r}; expected one of {LEVELS}.")
    if level == "data":
        return [(".*", "replicate")]
    fsdp = f"fsdp(axis={data_axis!r}, min_size_to_shard_mb={min_size_to_shard_mb!r})"
    rules = []
    if family == "flexivit":
        rules.append((r"(.*/)?(embedding/kernel|pos_embedding/embeddings)", "replicate"))
    if level == "fsdp_tp":
        rules.extend(_tensor_parallel(model_axis, fsdp))
        if family == "paligemma":
            rules.extend(_gemma_tensor_parallel(model_axis, fsdp))
    rules.append((".*", fsdp))
    return rules
