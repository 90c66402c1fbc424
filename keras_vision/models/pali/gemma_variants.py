"""big_vision's Gemma size table (`models/ppp/gemma.py::get_config`) and its expansion into explicit fields."""

# big_vision names. norm_eps is listed for completeness: big_vision's RMSNorm ignores it
# (hard-coded 1e-6), and so does the conversion.
GEMMA_VARIANTS = {
    "gemma_2b": dict(width=2048, depth=18, mlp_dim=16_384, num_heads=8, num_kv_heads=1, head_dim=256,
                     norm_eps=1e-6, vocab_size=256_000),
    "gemma_7b": dict(width=3072, depth=28, mlp_dim=24_576, num_heads=16, num_kv_heads=16, head_dim=256,
                     norm_eps=1e-6, vocab_size=256_000),
    "gemma2_2b": dict(width=2304, depth=26, mlp_dim=9_216, num_heads=8, num_kv_heads=4, head_dim=256,
                      norm_eps=1e-6, vocab_size=256_000, final_logits_softcap=30.0, attn_logits_softcap=50.0,
                      post_norms=True),
    "gemma2_9b": dict(width=3584, depth=42, mlp_dim=14_336, num_heads=16, num_kv_heads=8, head_dim=256,
                      norm_eps=1e-6, vocab_size=256_000, final_logits_softcap=30.0, attn_logits_softcap=50.0,
                      post_norms=True),
    "gemma2_27b": dict(width=4608, depth=46, mlp_dim=36_864, num_heads=32, num_kv_heads=16, head_dim=128,
                       norm_eps=1e-6, vocab_size=256_000, query_pre_attn_norm="rsqrt_emb_per_head",
                       final_logits_softcap=30.0, attn_logits_softcap=50.0, post_norms=True),
}
# The sizes a config must give (through a variant or explicitly).
SIZE_FIELDS = ("width", "depth", "mlp_dim", "num_heads", "num_kv_heads", "head_dim", "vocab_size")
# gemma.Model's defaults of the other architecture fields.
ARCH_DEFAULTS = dict(query_pre_attn_norm="rsqrt_head_dim", final_logits_softcap=0.0, attn_logits_softcap=0.0,
                     post_norms=False, norm_eps=1e-6)
ARCH_FIELDS = SIZE_FIELDS + tuple(ARCH_DEFAULTS)
# big_vision gemma_bv kwargs that change how it runs (scan, remat, decode-cache dtype,
# dropout broadcast dims, activation dtype), not what it computes in float32.
RUN_FIELDS = ("scan", "remat_policy", "cache_dtype", "dropout_bdims", "embed_dtype")
QUERY_PRE_ATTN_NORMS = ("rsqrt_head_dim", "rsqrt_emb_per_head")


def expand_gemma_config(llm, allow_missing=False):
    """big_vision `llm` kwargs -> every architecture field explicit (+ `dropout`), variant expanded.

    The variant's numbers (big_vision `gemma.get_config`) come first and explicit
    fields win, as `gemma_bv` overrides vocab_size and the soft-caps. An unknown
    variant is only a label when every size is given explicitly.

    Args:
        llm: a variant name ("gemma_2b"), or a dict, e.g. {"variant": "gemma_2b", "vocab_size": 257_152} or the explicit
            fields width, depth, mlp_dim, num_heads, num_kv_heads, head_dim, vocab_size
            (+ norm_eps, final_logits_softcap, attn_logits_softcap, post_norms,
            query_pre_attn_norm, dropout).
        allow_missing: leave missing sizes out instead of raising (a converter reads
            them off the checkpoint).

    Returns:
        dict of big_vision field names (no run-time fields such as scan).

    Example:
        >>> expand_gemma_config({"variant": "gemma2_2b"})["num_kv_heads"]
        4
    """
    llm = {"variant": llm} if isinstance(llm, str) else dict(llm or {})
    unknown = sorted(set(llm) - set(ARCH_FIELDS) - set(RUN_FIELDS) - {"variant", "dropout"})
    if unknown:
        raise ValueError(
            f"Unknown Gemma (llm) config field(s) {unknown}; expected some of "
            f"{sorted((*ARCH_FIELDS, *RUN_FIELDS, 'variant', 'dropout'))}."
        )
    variant = llm.pop("variant", None)
    for key in RUN_FIELDS:
        llm.pop(key, None)
    # gemma_bv passes None for "keep the variant's value".
    llm = {k: v for k, v in llm.items() if v is not None}
    base = {}
    if variant is not None:
        if variant in GEMMA_VARIANTS:
            base = dict(GEMMA_VARIANTS[variant])
        elif not allow_missing and not all(k in llm for k in SIZE_FIELDS):
            missing = [k for k in SIZE_FIELDS if k not in llm]
            raise ValueError(
                f"Unknown Gemma variant {variant!r}; expected one of {sorted(GEMMA_VARIANTS)}, "
                f"or give every size explicitly (missing: {missing})."
            )
    out = {**ARCH_DEFAULTS, **base, **llm}
    missing = [k for k in SIZE_FIELDS if k not in out]
    if missing and not allow_missing:
        raise ValueError(
            f"Gemma (llm) config is missing {missing}: give a variant (one of {sorted(GEMMA_VARIANTS)}) "
            "or the sizes explicitly."
        )
    if out["query_pre_attn_norm"] not in QUERY_PRE_ATTN_NORMS:
        raise ValueError(
            f"Unknown query_pre_attn_norm {out['query_pre_attn_norm']!r}; expected one of {QUERY_PRE_ATTN_NORMS}."
        )
    return out


def gemma_backbone_kwargs(llm):
    """Expanded big_vision llm fields (`expand_gemma_config`) -> `PaliGemmaBackbone` language-model kwargs."""
    return dict(
        vocabulary_size=int(llm["vocab_size"]),
        hidden_dim=int(llm["width"]),
        num_layers=int(llm["depth"]),
        intermediate_dim=int(llm["mlp_dim"]),
        num_heads=int(llm["num_heads"]),
        num_key_value_heads=int(llm["num_kv_heads"]),
        head_dim=int(llm["head_dim"]),
        query_head_dim_normalize=llm["query_pre_attn_norm"] == "rsqrt_head_dim",
        attention_logit_soft_cap=float(llm["attn_logits_softcap"]) or None,
        # big_vision's PaliGemma computes text logits with `compute_logits(pre_logits)`,
        # which skips gemma.Model's final soft-cap (only its `extend_cache` decode steps
        # apply it, a monotone rescaling: greedy decoding is the same). The training loss,
        # scoring and golden use uncapped logits, so the cap is not carried over.
        final_logit_soft_cap=None,
        use_post_attention_norm=bool(llm["post_norms"]),
        use_post_ffw_norm=bool(llm["post_norms"]),
        dropout_rate=float(llm.get("dropout", 0.0) or 0.0),
    )
