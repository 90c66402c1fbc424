"""Multi-head dot-product attention with flax weight layout, optional QK-norm, masks and a KV cache."""

import math

import keras
from keras import ops

from keras_vision.api_export import keras_vision_export
from keras_vision.layers._utils import FlatFanInitializer
from keras_vision.layers.layer_norm import LayerNorm


class _Projection(keras.layers.Layer):
    """Einsum projection to/from heads: (B,T,D)->(B,T,H,Dh) or (B,T,H,Dh)->(B,T,D).

    Weights `kernel` and `bias`, shaped as flax `DenseGeneral` (and Keras MHA):
    to heads kernel (D, H, Dh), bias (H, Dh); from heads kernel (H, Dh, D), bias (D,).
    """

    def __init__(self, output_shape, to_heads, use_bias, kernel_initializer, bias_initializer, **kwargs):
        super().__init__(**kwargs)
        self.out_dims = tuple(int(d) for d in output_shape)
        self.to_heads = to_heads
        self.use_bias = use_bias
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer

    def build(self, input_shape):
        in_dims = (int(input_shape[-1]),) if self.to_heads else tuple(int(d) for d in input_shape[-2:])
        self.kernel = self.add_weight(
            name="kernel",
            shape=in_dims + self.out_dims,
            initializer=FlatFanInitializer(self.kernel_initializer, len(in_dims)),
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=self.out_dims, initializer=self.bias_initializer)

    def call(self, x):
        equation = "btd,dhk->bthk" if self.to_heads else "bthk,hkd->btd"
        y = ops.einsum(equation, x, self.kernel)
        if self.bias is not None:
            y = y + self.bias
        return y


@keras_vision_export("keras_vision.layers.MultiHeadAttention")
class MultiHeadAttention(keras.layers.Layer):
    """Multi-head dot-product attention, numerically as flax `MultiHeadDotProductAttention`.

    Projections are sublayers `query`, `key`, `value` (kernel (D, H, Dh), bias (H, Dh))
    and `out` (kernel (H, Dh, D_out), bias (D_out,)), so big_vision checkpoints load by
    plain assignment. Queries are scaled by 1/sqrt(head_dim) before the dot product;
    the softmax runs in float32. Kernels are initialized xavier-uniform over the
    flattened (fan_in, fan_out) like flax.

    Self-attention by default; pass `value` (and optionally `key`) for cross-attention.
    Masks and a KV cache are supported for decoders:
    `attention_mask` is boolean, True = may attend, broadcastable to
    (batch, [heads,] q_len, kv_len); `use_causal_mask=True` adds a causal mask.
    With `cache` (batch, 2, max_len, H, Dh) the keys/values of the new tokens are
    written at `cache_update_index` and the call returns `(output, cache)`.

    Args:
        num_heads: int.
        head_dim: optional int, default query_dim // num_heads.
        output_dim: optional int, default the query dim.
        use_bias: bool, biases on the query/key/value projections.
        output_use_bias: optional bool, bias on `out`; default `use_bias`.
        qk_norm: bool, LayerNorm (no bias, as flax `normalize_qk`) on queries and keys
            per head, sublayers `query_ln` / `key_ln` (ViT-22B).
        layer_norm_epsilon: float, epsilon of the QK norms.
        dropout_rate: float, dropout on the attention probabilities (big_vision: 0).
        kernel_initializer: default "glorot_uniform" (xavier-uniform).
        bias_initializer: default "zeros".
        **kwargs: `keras.layers.Layer` arguments.

    Call args:
        query: (batch, q_len, D).
        value: optional (batch, kv_len, D_kv); default `query`.
        key: optional (batch, kv_len, D_kv); default `value`.
        attention_mask: optional boolean mask (see above).
        use_causal_mask: bool.
        cache: optional (batch, 2, max_len, H, Dh) key/value cache.
        cache_update_index: int or scalar tensor, position of the first new token.
        training: bool.

    Returns:
        (batch, q_len, output_dim), or `(output, cache)` when `cache` is given.

    Example:
        >>> MultiHeadAttention(num_heads=2)(np.zeros((2, 16, 64))).shape
        (2, 16, 64)

    Paper: "Attention Is All You Need" (https://arxiv.org/abs/1706.03762); QK-norm:
    "Scaling Vision Transformers to 22 Billion Parameters" (https://arxiv.org/abs/2302.05442).
    """

    def __init__(
        self,
        num_heads,
        head_dim=None,
        output_dim=None,
        use_bias=True,
        output_use_bias=None,
        qk_norm=False,
        layer_norm_epsilon=1e-6,
        dropout_rate=0.0,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = int(num_heads)
        self.head_dim = None if head_dim is None else int(head_dim)
        self.output_dim = None if output_dim is None else int(output_dim)
        self.use_bias = bool(use_bias)
        self.output_use_bias = self.use_bias if output_use_bias is None else bool(output_use_bias)
        self.qk_norm = bool(qk_norm)
        self.layer_norm_epsilon = float(layer_norm_epsilon)
        self.dropout_rate = float(dropout_rate)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.dropout = keras.layers.Dropout(self.dropout_rate, dtype=self.dtype_policy, name="dropout")

    def build(self, query_shape, value_shape=None, key_shape=None):
        value_shape = query_shape if value_shape is None else value_shape
        key_shape = value_shape if key_shape is None else key_shape
        query_dim = query_shape[-1]
        if query_dim is None:
            raise ValueError(f"MultiHeadAttention needs a known query dim, got shape {query_shape}.")
        query_dim = int(query_dim)
        if self.head_dim is None:
            if query_dim % self.num_heads:
                raise ValueError(
                    f"Query dim {query_dim} is not divisible by num_heads={self.num_heads}; pass head_dim."
                )
            self._head_dim = query_dim // self.num_heads
        else:
            self._head_dim = self.head_dim
        heads = (self.num_heads, self._head_dim)
        common = dict(kernel_initializer=self.kernel_initializer, bias_initializer=self.bias_initializer)
        self.query_proj = _Projection(heads, True, self.use_bias, name="query", dtype=self.dtype_policy, **common)
        self.key_proj = _Projection(heads, True, self.use_bias, name="key", dtype=self.dtype_policy, **common)
        self.value_proj = _Projection(heads, True, self.use_bias, name="value", dtype=self.dtype_policy, **common)
        self.out_proj = _Projection(
            (self.output_dim or query_dim,), False, self.output_use_bias, name="out", dtype=self.dtype_policy, **common
        )
        self.query_proj.build(query_shape)
        self.key_proj.build(key_shape)
        self.value_proj.build(value_shape)
        self.out_proj.build((*query_shape[:-1], *heads))
        self.query_ln = self.key_ln = None
        if self.qk_norm:
            self.query_ln = LayerNorm(self.layer_norm_epsilon, use_bias=False, name="query_ln", dtype=self.dtype_policy)
            self.key_ln = LayerNorm(self.layer_norm_epsilon, use_bias=False, name="key_ln", dtype=self.dtype_policy)
            self.query_ln.build((*query_shape[:-1], *heads))
            self.key_ln.build((*key_shape[:-1], *heads))

    def _mask(self, attention_mask, use_causal_mask, q_len, kv_len, cache_update_index):
        mask = None
        if attention_mask is not None:
            mask = ops.cast(attention_mask, "bool")
            if len(mask.shape) == 3:  # (B, q, k) -> (B, 1, q, k), shared by the heads
                mask = ops.expand_dims(mask, 1)
        if use_causal_mask:
            offset = 0 if cache_update_index is None else cache_update_index
            q_pos = ops.arange(q_len, dtype="int32")[:, None] + ops.cast(offset, "int32")
            k_pos = ops.arange(kv_len, dtype="int32")[None, :]
            causal = ops.greater_equal(q_pos, k_pos)[None, None]
            mask = causal if mask is None else ops.logical_and(mask, causal)
        return mask

    def call(
        self,
        query,
        value=None,
        key=None,
        attention_mask=None,
        use_causal_mask=False,
        cache=None,
        cache_update_index=None,
        training=None,
    ):
        value = query if value is None else value
        key = value if key is None else key
        q = self.query_proj(query)
        k = self.key_proj(key)
        v = self.value_proj(value)
        if self.qk_norm:
            q = self.query_ln(q)
            k = self.key_ln(k)
        if cache is not None:
            if cache_update_index is None:
                raise ValueError("MultiHeadAttention: `cache` needs `cache_update_index`.")
            start = [0, cache_update_index, 0, 0]
            k_cache = ops.slice_update(cache[:, 0], start, ops.cast(k, cache.dtype))
            v_cache = ops.slice_update(cache[:, 1], start, ops.cast(v, cache.dtype))
            cache = ops.stack([k_cache, v_cache], axis=1)
            k, v = ops.cast(k_cache, q.dtype), ops.cast(v_cache, q.dtype)
        # flax scales the queries (not the logits) by 1/sqrt(head_dim).
        q = q / ops.cast(math.sqrt(self._head_dim), q.dtype)
        logits = ops.einsum("bqhd,bkhd->bhqk", q, k)
        logits = ops.cast(logits, "float32")
        mask = self._mask(attention_mask, use_causal_mask, q.shape[1], k.shape[1], cache_update_index)
        if mask is not None:
            logits = ops.where(mask, logits, ops.cast(-1e30, "float32"))
        weights = ops.cast(ops.softmax(logits, axis=-1), q.dtype)
        weights = self.dropout(weights, training=training)
        out = self.out_proj(ops.einsum("bhqk,bkhd->bqhd", weights, v))
        if cache is not None:
            return out, cache
        return out

    def compute_output_spec(self, query, value=None, key=None, cache=None, **kwargs):
        out_dim = self.output_dim or query.shape[-1]
        out = keras.KerasTensor((*query.shape[:-1], out_dim), dtype=self.compute_dtype)
        if cache is not None:
            return out, keras.KerasTensor(cache.shape, dtype=cache.dtype)
        return out

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "head_dim": self.head_dim,
                "output_dim": self.output_dim,
                "use_bias": self.use_bias,
                "output_use_bias": self.output_use_bias,
                "qk_norm": self.qk_norm,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "dropout_rate": self.dropout_rate,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            }
        )
        return config
