"""Gemma self-attention: multi-head / multi-query / grouped-query, RoPE, optional soft-capping, KV cache."""

import keras
from keras import ops

from keras_vision.api_export import keras_vision_export
from keras_vision.models.pali.gemma_mlp import fan_in_truncated_normal

# big_vision's masked-logit value (from gemma/modules.py), not -inf: a fully masked row
# (a padding query) then gets a uniform softmax instead of NaNs.
BIG_NEG = -2.3819763e38

# Constructor arguments shared with `GemmaDecoderBlock`, which passes them through.
ATTENTION_ARGS = ("num_heads", "num_key_value_heads", "head_dim", "query_head_dim_normalize", "attention_logit_soft_cap")


def apply_gemma_rope(x, positions, max_wavelength=10_000):
    """Rotary position embedding of `x` (B, T, heads, H) at integer `positions` (B, T) or (1, T).

    The feature axis is split in halves (x1, x2) rotated by angle `position / timescale`,
    `timescale = max_wavelength ** (2 i / H)`: [x1 cos - x2 sin, x2 cos + x1 sin].

    Written here rather than using `keras_hub.layers.RotaryEmbedding`, which computes the
    same rotation: KerasHub multiplies positions by `max_wavelength ** -(2 i / H)` where
    big_vision divides by `max_wavelength ** (2 i / H)`. The two float32 roundings agree
    to 2e-7 for a few dozen positions but differ by ~1e-3 at position 4096 (PaliGemma at
    896 px has 4096 image tokens); this formula is bit-identical to big_vision's on JAX.
    """
    head_dim = x.shape[-1]
    exponents = (2.0 / head_dim) * ops.arange(head_dim // 2, dtype="float32")
    timescale = ops.power(ops.cast(max_wavelength, "float32"), exponents)
    radians = ops.cast(positions, "float32")[..., None] / timescale
    radians = radians[..., None, :]  # (B, T, 1, H/2): broadcast over heads
    sin = ops.cast(ops.sin(radians), x.dtype)
    cos = ops.cast(ops.cos(radians), x.dtype)
    x1, x2 = ops.split(x, 2, axis=-1)
    return ops.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)


@keras_vision_export("keras_vision.models.pali.GemmaAttention")
class GemmaAttention(keras.layers.Layer):
    """Gemma attention with big_vision's weight layout, masking and optional fixed-size KV cache.

    Weights: `qkv_einsum` (3, N, D, H) when `num_key_value_heads == num_heads`, else
    `q_einsum` (N, D, H) and `kv_einsum` (2, K, D, H) (multi-query for K = 1, grouped
    query otherwise); `attn_vec_einsum` (N, H, D). No biases. RoPE on queries and keys,
    then queries scaled by `head_dim ** -0.5` (or `(D // N) ** -0.5`, Gemma 2 27B);
    logits in float32, optional `tanh(l / cap) * cap` soft-capping, masked positions set
    to -2.38e38 (big_vision's value) before the softmax.

    Call arguments:
        inputs: (B, T, D).
        attention_mask: bool/int (B, T, S): which of the S key positions each query sees
            (S = T without a cache, the cache size with one).
        cache: optional (B, 2, S, K, H) keys/values; this call's keys/values are written
            at [cache_update_index, cache_update_index + T) and the call returns
            `(outputs, new_cache)`.
        cache_update_index: int or int scalar tensor, where to write (default 0).
        positions: optional int (B, T) absolute positions for RoPE; default
            `cache_update_index + arange(T)`.

    Args:
        num_heads: int, N query heads.
        num_key_value_heads: int, K key/value heads; N must be a multiple of K.
        head_dim: int, H.
        query_head_dim_normalize: bool; True scales queries by `head_dim ** -0.5`
            (big_vision `query_pre_attn_norm="rsqrt_head_dim"`), False by
            `(hidden_dim // num_heads) ** -0.5` ("rsqrt_emb_per_head").
        attention_logit_soft_cap: optional float (big_vision `attn_logits_softcap`;
            None or 0: no capping).
        rope_max_wavelength: float, RoPE base (10 000 in Gemma).
        **kwargs: `keras.layers.Layer` arguments (name, dtype, ...).

    Example:
        >>> attn = GemmaAttention(num_heads=2, num_key_value_heads=1, head_dim=16, name="attn")
        >>> attn(np.ones((2, 5, 32)), attention_mask=np.tril(np.ones((5, 5)))[None]).shape
        (2, 5, 32)

    Papers: "Fast Transformer Decoding: One Write-Head is All You Need" (MQA,
    https://arxiv.org/abs/1911.02150); "RoFormer" (RoPE, https://arxiv.org/abs/2104.09864).
    """

    def __init__(
        self,
        num_heads,
        num_key_value_heads,
        head_dim,
        query_head_dim_normalize=True,
        attention_logit_soft_cap=None,
        rope_max_wavelength=10_000,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if int(num_heads) % int(num_key_value_heads):
            raise ValueError(
                f"num_heads ({num_heads}) must be a multiple of num_key_value_heads ({num_key_value_heads})."
            )
        self.num_heads = int(num_heads)
        self.num_key_value_heads = int(num_key_value_heads)
        self.head_dim = int(head_dim)
        self.query_head_dim_normalize = bool(query_head_dim_normalize)
        self.attention_logit_soft_cap = float(attention_logit_soft_cap) if attention_logit_soft_cap else None
        self.rope_max_wavelength = float(rope_max_wavelength)

    def build(self, input_shape):
        dim = input_shape[-1]
        if dim is None:
            raise ValueError(f"GemmaAttention needs a known last dimension, got input shape {input_shape}.")
        self.hidden_dim = int(dim)
        n, k, h = self.num_heads, self.num_key_value_heads, self.head_dim
        self.qkv_einsum = self.q_einsum = self.kv_einsum = None
        init = fan_in_truncated_normal(dim)
        if k == n:
            self.qkv_einsum = self.add_weight(name="qkv_einsum", shape=(3, n, dim, h), initializer=init)
        else:
            self.q_einsum = self.add_weight(name="q_einsum", shape=(n, dim, h), initializer=init)
            self.kv_einsum = self.add_weight(name="kv_einsum", shape=(2, k, dim, h), initializer=init)
        self.attn_vec_einsum = self.add_weight(
            name="attn_vec_einsum", shape=(n, h, dim), initializer=fan_in_truncated_normal(n * h)
        )

    def _query_scale(self):
        if self.query_head_dim_normalize:
            return self.head_dim**-0.5
        return (self.hidden_dim // self.num_heads) ** -0.5

    def call(self, inputs, attention_mask, cache=None, cache_update_index=None, positions=None, training=None):
        x = inputs
        if self.qkv_einsum is not None:
            q = ops.einsum("btd,ndh->btnh", x, self.qkv_einsum[0])
            k = ops.einsum("bsd,kdh->bskh", x, self.qkv_einsum[1])
            v = ops.einsum("bsd,kdh->bskh", x, self.qkv_einsum[2])
        else:
            q = ops.einsum("btd,ndh->btnh", x, self.q_einsum)
            k = ops.einsum("bsd,kdh->bskh", x, self.kv_einsum[0])
            v = ops.einsum("bsd,kdh->bskh", x, self.kv_einsum[1])

        start = 0 if cache_update_index is None else cache_update_index
        if positions is None:
            positions = (ops.arange(ops.shape(x)[1], dtype="int32") + ops.cast(start, "int32"))[None, :]
        q = apply_gemma_rope(q, positions, self.rope_max_wavelength) * self._query_scale()
        k = apply_gemma_rope(k, positions, self.rope_max_wavelength)

        if cache is not None:
            update = ops.cast(ops.stack([k, v], axis=1), cache.dtype)
            zero = ops.zeros((), "int32")
            cache = ops.slice_update(cache, (zero, zero, ops.cast(start, "int32"), zero, zero), update)
            k = ops.cast(cache[:, 0], x.dtype)
            v = ops.cast(cache[:, 1], x.dtype)

        batch, length = ops.shape(q)[0], ops.shape(q)[1]
        groups = self.num_heads // self.num_key_value_heads
        q = ops.reshape(q, (batch, length, self.num_key_value_heads, groups, self.head_dim))
        logits = ops.cast(ops.einsum("btkgh,bskh->bkgts", q, k), "float32")
        if self.attention_logit_soft_cap:
            cap = self.attention_logit_soft_cap
            logits = ops.tanh(logits / cap) * cap
        mask = ops.cast(attention_mask, "bool")[:, None, None, :, :]
        logits = ops.where(mask, logits, BIG_NEG)
        probs = ops.cast(ops.softmax(logits, axis=-1), v.dtype)
        encoded = ops.einsum("bkgts,bskh->btkgh", probs, v)
        encoded = ops.reshape(encoded, (batch, length, self.num_heads, self.head_dim))
        outputs = ops.einsum("btnh,nhd->btd", encoded, self.attn_vec_einsum)
        if cache is not None:
            return outputs, cache
        return outputs

    def get_config(self):
        config = super().get_config()
        config.update({name: getattr(self, name) for name in ATTENTION_ARGS + ("rope_max_wavelength",)})
        return config
