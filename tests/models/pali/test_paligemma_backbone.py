"""PaliGemmaBackbone: prefix-LM mask, KV-cache decoding, Gemma 2 options vs a NumPy reference, config, builder."""

import math

import numpy as np
import pytest
from keras import ops

from keras_vision.models import build_model
from keras_vision.models import resolve_model_kwargs
from keras_vision.models.pali import GEMMA_VARIANTS
from keras_vision.models.pali import PaliGemmaBackbone
from keras_vision.models.pali import make_attention_mask
from keras_vision.models.pali.gemma_variants import expand_gemma_config
from keras_vision.models.pali.paligemma_convert import gemma_variables
from keras_vision.testing import randomize_weights
from keras_vision.testing import run_backbone_test

# The golden's dims (mu/8 ViT at 32 px, a 2-layer multi-query Gemma): every model in these
# tests shares its shapes, so JAX compiles each op once for the whole folder.
TINY = dict(vocabulary_size=97, image_shape=(32, 32, 3), vit_patch_size=8, vit_hidden_dim=32, vit_num_layers=1,
            vit_num_heads=2, vit_intermediate_dim=128, hidden_dim=32, num_layers=2, num_heads=2,
            num_key_value_heads=1, head_dim=16, intermediate_dim=64)
N_IMAGE = 16  # (32 / 8) ** 2 patch tokens


def _np(x):
    return np.asarray(ops.convert_to_numpy(x))


def _predict(model, inputs):
    # Eager calls: JAX caches each op per shape across models, and every test here uses
    # the same shapes, so after the first call they are cheaper than one jit per model.
    return model(inputs)


def _inputs(batch=2, length=9, seed=1):
    rng = np.random.default_rng(seed)
    return {
        "images": rng.uniform(-1, 1, (batch, 32, 32, 3)).astype("float32"),
        "tokens": rng.integers(0, TINY["vocabulary_size"], (batch, length)).astype("int32"),
    }


@pytest.fixture(scope="module")
def backbone():
    return randomize_weights(PaliGemmaBackbone(**TINY))


def _blocks(mask_ar):
    """Reference semantics of big_vision's make_attn_mask: j visible from i iff block(j) <= block(i)."""
    c = np.cumsum(mask_ar, axis=-1)
    return c[..., None, :] <= c[..., :, None]


def test_make_attention_mask_follows_big_vision_docstring():
    causal = _np(make_attention_mask(np.ones((1, 6)), np.ones((1, 6), "int32")))[0]
    np.testing.assert_array_equal(causal, np.tril(np.ones((6, 6), bool)))
    prefix = _np(make_attention_mask(np.ones((1, 6)), np.array([[0, 0, 0, 1, 1, 1]])))[0]
    expected = np.tril(np.ones((6, 6), bool))
    expected[:3, :3] = True  # the prefix attends to itself fully
    np.testing.assert_array_equal(prefix, expected)
    # "causal attention between 4 blocks": a leading 1 behaves as a 0.
    blocks = np.array([[1, 0, 1, 0, 1, 0, 0, 1, 0, 0]])
    np.testing.assert_array_equal(_np(make_attention_mask(np.ones((1, 10)), blocks))[0], _blocks(blocks)[0])
    # Padding (input_mask 0) is neither seen nor sees anything.
    padded = _np(make_attention_mask(np.array([[1, 1, 0, 1]]), np.array([[0, 0, 1, 1]])))[0]
    assert not padded[2].any() and not padded[:, 2].any()
    assert padded[3, :2].all() and padded[3, 3]


@pytest.mark.multibackend
def test_prefix_lm_mask(backbone):
    x = _inputs()
    prefix_ar = np.array([[0, 0, 0, 0, 1, 1, 1, 1, 1]] * 2, "int32")

    def logits(tokens, mask_ar, mask_input=None):
        mask_input = np.ones_like(tokens) if mask_input is None else mask_input
        inputs = {"images": x["images"], "tokens": tokens, "mask_ar": mask_ar, "mask_input": mask_input}
        return _np(_predict(backbone, inputs)["text_logits"])

    base = logits(x["tokens"], prefix_ar)
    # A suffix token never changes logits at earlier positions, but changes its own.
    suffix = x["tokens"].copy()
    suffix[:, 6] = (suffix[:, 6] + 1) % TINY["vocabulary_size"]
    changed = logits(suffix, prefix_ar)
    np.testing.assert_allclose(changed[:, :6], base[:, :6], atol=1e-6, rtol=0)
    assert np.abs(changed[:, 6:] - base[:, 6:]).max() > 1e-3
    # A prefix token changes logits at earlier prefix positions (full attention in the prefix)...
    prefix = x["tokens"].copy()
    prefix[:, 3] = (prefix[:, 3] + 1) % TINY["vocabulary_size"]
    diff = np.abs(logits(prefix, prefix_ar)[:, :3] - base[:, :3]).max(axis=-1)
    assert (diff > 1e-3).all(), diff  # every earlier prefix position of every example
    # ... but not under a causal mask.
    causal_ar = np.ones_like(prefix_ar)
    np.testing.assert_allclose(logits(prefix, causal_ar)[:, :3], logits(x["tokens"], causal_ar)[:, :3],
                               atol=1e-6, rtol=0)
    # A padding token (mask_input 0) changes no valid position.
    mask_input = np.ones_like(prefix_ar)
    mask_input[:, 2] = 0
    valid = [0, 1, 3, 4, 5, 6, 7, 8]
    padded = x["tokens"].copy()
    padded[:, 2] = (padded[:, 2] + 1) % TINY["vocabulary_size"]
    np.testing.assert_allclose(logits(padded, prefix_ar, mask_input)[:, valid],
                               logits(x["tokens"], prefix_ar, mask_input)[:, valid], atol=1e-6, rtol=0)


@pytest.mark.multibackend
def test_cached_greedy_decoding_matches_full_recomputation(backbone):
    x = _inputs(length=4)
    prompt_ar = np.zeros((2, 4), "int32")  # a PaliGemma prefix; generated tokens are causal
    steps = 5
    # Cached: prefill once, then one decode step per token.
    prompt = {"images": x["images"], "tokens": x["tokens"], "mask_ar": prompt_ar}
    logits, cache = backbone.prefill_cache(prompt, cache_size=steps)
    assert len(cache["kv"]) == 2 and _np(cache["kv"][0]).shape == (2, 2, N_IMAGE + 4 + steps, 1, 16)
    cached_tokens, cached_logits = [], []
    last = _np(logits)
    for step in range(steps):
        token = last.argmax(-1)[:, None].astype("int32")
        cached_tokens.append(token)
        step_logits, cache = backbone.extend_cache(token, cache, step)
        last = _np(step_logits)
        cached_logits.append(last)
    np.testing.assert_array_equal(_np(cache["end"]), N_IMAGE + 4 + steps)
    # Full recomputation of the whole sequence at every step; not-yet-generated positions
    # are trailing padding (mask_input 0), which no valid position sees: one shape for all steps.
    tokens = np.concatenate([x["tokens"], np.zeros((2, steps), "int32")], axis=1)
    mask_ar = np.concatenate([prompt_ar, np.ones((2, steps), "int32")], axis=1)
    for step in range(steps + 1):
        length = 4 + step
        mask_input = (np.arange(4 + steps) < length).astype("int32")[None].repeat(2, 0)
        inputs = {"images": x["images"], "tokens": tokens, "mask_ar": mask_ar, "mask_input": mask_input}
        last = _np(_predict(backbone, inputs)["text_logits"])[:, length - 1]
        if step:
            np.testing.assert_allclose(cached_logits[step - 1], last, atol=1e-5, rtol=0)
        if step < steps:
            token = last.argmax(-1)
            np.testing.assert_array_equal(token, cached_tokens[step][:, 0])
            tokens[:, length] = token


@pytest.mark.multibackend
def test_cached_decoding_of_mixed_prompt_lengths_equals_each_prompt_alone(backbone):
    # Left-aligned prompts of lengths 4 and 2 (big_vision's eval batches); each must decode
    # as if it were alone and unpadded: RoPE positions and attention skip the padding.
    x = _inputs(length=4)
    mask_ar = np.zeros((2, 4), "int32")
    mask_input = np.array([[1, 1, 1, 1], [1, 1, 0, 0]], "int32")
    prefill, cache = backbone.prefill_cache(
        {"images": x["images"], "tokens": x["tokens"], "mask_ar": mask_ar, "mask_input": mask_input}, cache_size=2
    )
    token = np.array([[5], [7]], "int32")
    step, _ = backbone.extend_cache(token, cache, 0)
    for i, length in enumerate((4, 2)):
        tokens = np.concatenate([x["tokens"][i : i + 1, :length], token[i : i + 1]], 1)
        full_ar = np.concatenate([np.zeros((1, length), "int32"), np.ones((1, 1), "int32")], 1)
        full = _np(backbone.text_logits(x["images"][i : i + 1], tokens, full_ar))[0]
        np.testing.assert_allclose(_np(prefill)[i], full[length - 1], atol=1e-5, rtol=0)
        np.testing.assert_allclose(_np(step)[i], full[length], atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="one token per example, shape \\(B, 1\\), got \\(2, 2\\)"):
        backbone.extend_cache(np.ones((2, 2), "int32"), cache, 0)


# --- an independent NumPy version of big_vision's gemma.py (float64) ---------------------
def _np_rms(x, scale):
    return x / np.sqrt(np.mean(x * x, -1, keepdims=True) + 1e-6) * (1 + scale)


def _np_rope(x, positions):
    h = x.shape[-1]
    radians = positions[..., None] / 10_000 ** ((2.0 / h) * np.arange(h // 2))
    sin, cos = np.sin(radians)[..., None, :], np.cos(radians)[..., None, :]
    x1, x2 = np.split(x, 2, -1)
    return np.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], -1)


def _np_gelu(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


def _np_attention(x, p, mask, cfg):
    n, k, h, d = cfg["num_heads"], cfg["num_key_value_heads"], cfg["head_dim"], x.shape[-1]
    if "attn/qkv_einsum/w" in p:
        w = p["attn/qkv_einsum/w"]
        q, kk, v = (np.einsum("btd,ndh->btnh", x, w[i]) for i in range(3))
    else:
        q = np.einsum("btd,ndh->btnh", x, p["attn/q_einsum/w"])
        kk, v = (np.einsum("bsd,kdh->bskh", x, p["attn/kv_einsum/w"][i]) for i in range(2))
    pos = np.arange(x.shape[1])[None]
    scale = h**-0.5 if cfg.get("query_head_dim_normalize", True) else (d // n) ** -0.5
    q, kk = _np_rope(q, pos) * scale, _np_rope(kk, pos)
    q = q.reshape(*q.shape[:2], k, n // k, h)
    logits = np.einsum("btkgh,bskh->bkgts", q, kk)
    if cfg.get("attention_logit_soft_cap"):
        logits = np.tanh(logits / cfg["attention_logit_soft_cap"]) * cfg["attention_logit_soft_cap"]
    logits = np.where(mask[:, None, None], logits, -2.3819763e38)
    probs = np.exp(logits - logits.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    enc = np.einsum("bkgts,bskh->btkgh", probs, v).reshape(*x.shape[:2], n, h)
    return np.einsum("btnh,nhd->btd", enc, p["attn/attn_vec_einsum/w"])


def _np_paligemma(zimg, tokens, mask_ar, params, cfg):
    emb = params["embedder/input_embedding"]
    x = np.concatenate([zimg, emb[tokens] * np.sqrt(emb.shape[1])], axis=1)
    full_ar = np.concatenate([np.zeros(zimg.shape[:2], int), mask_ar], axis=1)
    mask = _blocks(full_ar)
    post = cfg.get("use_post_attention_norm", False)
    for i in range(cfg["num_layers"]):
        p = {k[len(f"layers/{i}/"):]: v for k, v in params.items() if k.startswith(f"layers/{i}/")}
        a = _np_attention(_np_rms(x, p["pre_attention_norm/scale"]), p, mask, cfg)
        x = x + (_np_rms(a, p["post_attention_norm/scale"]) if post else a)
        y = _np_rms(x, p["pre_ffw_norm/scale"])
        g = p["mlp/gating_einsum"]
        y = (_np_gelu(y @ g[0]) * (y @ g[1])) @ p["mlp/linear"]
        x = x + (_np_rms(y, p["post_ffw_norm/scale"]) if post else y)
    pre_logits = _np_rms(x, params["final_norm/scale"])
    logits = pre_logits[:, zimg.shape[1]:] @ emb.T
    if cfg.get("final_logit_soft_cap"):
        logits = np.tanh(logits / cfg["final_logit_soft_cap"]) * cfg["final_logit_soft_cap"]
    return pre_logits, logits


GEMMA2_GQA = dict(num_heads=4, num_key_value_heads=2, head_dim=8, use_post_attention_norm=True,
                  use_post_ffw_norm=True, attention_logit_soft_cap=1.5,
                  final_logit_soft_cap=2.0)
MHA_EMB_PER_HEAD = dict(num_heads=2, num_key_value_heads=2, head_dim=8, query_head_dim_normalize=False)


@pytest.mark.multibackend
@pytest.mark.parametrize("options", [{}, GEMMA2_GQA, MHA_EMB_PER_HEAD], ids=["gemma1_mqa", "gemma2_gqa", "mha"])
def test_decoder_matches_a_numpy_reference(options):
    cfg = {**TINY, **options}
    model = randomize_weights(PaliGemmaBackbone(**cfg), seed=2, std=0.2)
    x = _inputs(seed=3)
    mask_ar = np.array([[0, 0, 0, 1, 1, 1, 1, 1, 1], [0, 0, 0, 0, 0, 0, 1, 1, 0]], "int32")
    out = _predict(model, {**x, "mask_ar": mask_ar, "mask_input": np.ones_like(mask_ar)})
    params = {k: _np(v).astype("float64") for k, v in gemma_variables(model).items()}
    if options is MHA_EMB_PER_HEAD:
        assert "layers/0/attn/qkv_einsum/w" in params
    pre_logits, logits = _np_paligemma(_np(out["zimg"]).astype("float64"), x["tokens"], mask_ar, params, cfg)
    np.testing.assert_allclose(_np(out["pre_logits"]), pre_logits, atol=2e-5, rtol=1e-5)
    np.testing.assert_allclose(_np(out["text_logits"]), logits, atol=1e-4, rtol=1e-5)
    if options.get("final_logit_soft_cap"):
        assert np.abs(_np(out["text_logits"])).max() < 2.0  # the cap binds


@pytest.mark.multibackend
def test_backbone_standard_checks(backbone, tmp_path):
    x = {**_inputs(), "mask_ar": np.array([[0, 0, 1, 1, 1, 1, 1, 1, 1]] * 2, "int32"),
         "mask_input": np.ones((2, 9), "int32")}
    result = run_backbone_test(
        backbone, x, tmp_path, expected_output_shape={"pre_logits": (2, 25, 32), "text_logits": (2, 9, 97),
                                                      "zimg": (2, 16, 32)}, atol=1e-5,
    )
    config = result["restored"].get_config()
    for key, value in TINY.items():
        assert config[key] == value, key


def test_gemma_variant_table_is_big_vision_s():
    # big_vision models/ppp/gemma.py get_config (commit 0127fb6b).
    assert GEMMA_VARIANTS["gemma_2b"] == dict(width=2048, depth=18, mlp_dim=16_384, num_heads=8, num_kv_heads=1,
                                              head_dim=256, norm_eps=1e-6, vocab_size=256_000)
    g2 = expand_gemma_config({"variant": "gemma2_2b"})
    assert (g2["width"], g2["depth"], g2["mlp_dim"], g2["num_heads"], g2["num_kv_heads"], g2["head_dim"]) == (
        2304, 26, 9216, 8, 4, 256)
    assert (g2["final_logits_softcap"], g2["attn_logits_softcap"], g2["post_norms"]) == (30.0, 50.0, True)
    g9 = expand_gemma_config({"variant": "gemma2_9b", "vocab_size": 257_152, "final_logits_softcap": None})
    assert (g9["width"], g9["depth"], g9["mlp_dim"], g9["num_heads"], g9["num_kv_heads"], g9["vocab_size"]) == (
        3584, 42, 14_336, 16, 8, 257_152)
    assert g9["final_logits_softcap"] == 30.0  # None keeps the variant's value (gemma_bv)
    assert expand_gemma_config({"variant": "gemma2_27b"})["query_pre_attn_norm"] == "rsqrt_emb_per_head"
    with pytest.raises(ValueError, match=r"Unknown Gemma variant 'gemma_3b'; expected one of \['gemma2_27b'"):
        expand_gemma_config({"variant": "gemma_3b"})
    with pytest.raises(ValueError, match=r"Unknown Gemma \(llm\) config field\(s\) \['widht'\]"):
        expand_gemma_config({"variant": "gemma_2b", "widht": 3})


def test_builder_and_resolver():
    llm = dict(width=32, depth=2, mlp_dim=64, num_heads=2, num_kv_heads=1, head_dim=16, vocab_size=97,
               post_norms=True, attn_logits_softcap=50.0, final_logits_softcap=30.0, scan=True)
    model = build_model("proj.paligemma.paligemma", img=dict(variant="mu/8", pool_type="none", scan=True),
                        llm=llm, image_size=32)
    b = model.backbone
    assert (b.vit_hidden_dim, b.vit_num_layers, b.vit_patch_size, b.image_shape) == (32, 1, 8, (32, 32, 3))
    assert (b.hidden_dim, b.num_layers, b.vocabulary_size, b.attention_logit_soft_cap) == (32, 2, 97, 50.0)
    assert b.use_post_attention_norm and b.use_post_ffw_norm
    # big_vision's PaliGemma text logits (`compute_logits`) skip Gemma's final soft-cap.
    assert b.final_logit_soft_cap is None
    resolved = resolve_model_kwargs("proj.paligemma.paligemma", {"img": {"variant": "So400m/14"},
                                                                 "llm": {"variant": "gemma2_2b"}})
    assert resolved["img"]["width"] == 1152 and resolved["img"]["patch_size"] == 14
    assert resolved["llm"]["width"] == 2304 and resolved["llm"]["final_logits_softcap"] == 30.0
    assert "variant" not in resolved["llm"]
    with pytest.raises(ValueError, match="pool_type 'none'.*'map'"):
        build_model("proj.paligemma.paligemma", img=dict(variant="mu/8", pool_type="map"), llm=llm, image_size=32)
