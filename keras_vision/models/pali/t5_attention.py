"""T5 attention: no biases, no 1/sqrt(d) scaling, relative position buckets, optional KV cache."""

import keras
from keras import ops

from keras_vision.api_export import keras_vision_export

# The masked-logit value of T5 / KerasHub's T5 (-1e9). Applied with `where` (not added), so
# a fully masked query row gets a uniform softmax rather than NaNs.
MASKED_LOGIT = -1e9


def t5_relative_position_bucket(relative_position, bidirectional, num_buckets=32, max_distance=128):
    """Mesh TensorFlow's T5 bucketing of `relative_position = key_position - query_position` (int).

    Half the buckets (a quarter each side when bidirectional) are exact distances, the
    rest logarithmic up to `max_distance`; farther keys share the last bucket. Causal
    (`bidirectional=False`) keeps only keys at or before the query (later keys map to
    bucket 0 and are masked anyway). The float32 arithmetic follows Mesh TF / Hugging Face
    / KerasHub operation by operation: bucket edges such as distance 64 fall on a float32
    rounding, so any other order of operations can move a distance into the next bucket.

    Example:
        >>> t5_relative_position_bucket(ops.arange(-3, 4), bidirectional=True)
        [3, 2, 1, 0, 17, 18, 19]
    """
    relative_position = ops.cast(relative_position, "int32")
    buckets = ops.zeros_like(relative_position)
    if bidirectional:
        num_buckets //= 2
        buckets = buckets + ops.cast(relative_position > 0, "int32") * num_buckets
        distance = ops.abs(relative_position)
    else:
        distance = -ops.minimum(relative_position, 0)
    max_exact = num_buckets // 2
    is_small = distance < max_exact
    # `maximum` only keeps log(0) out of the unused branch (no -inf cast to int).
    far = ops.cast(ops.maximum(distance, max_exact), "float32")
    log_ratio = ops.log(far / ops.cast(max_exact, "float32")) / ops.cast(
        ops.log(max_distance / max_exact), "float32"
    )
    if_large = max_exact + ops.cast(log_ratio * (num_buckets - max_exact), "int32")
    if_large = ops.minimum(if_large, num_buckets - 1)
    return buckets + ops.where(is_small, distance, if_large)


@keras_vision_export("keras_vision.models.pali.T5Attention")
class T5Attention(keras.layers.Layer):
    """T5 / mT5 multi-head attention: self- or cross-attention, relative position bias, fixed-size KV cache.

    Weights `q`, `k`, `v` (D, heads, head_dim) and `o` (heads, head_dim, D), no biases,
    no `1/sqrt(head_dim)` on the logits (T5 folds it into the initialisation of `q`);
    with `use_relative_attention_bias`, a `relative_attention_bias` table (buckets,
    heads). T5 computes that bias in the first layer of a stack only and every later
    layer adds the same bias: the layer returns the bias it used so the caller can pass
    it on as `position_bias`. Logits and softmax are computed in float32.

    `causal=True` is the decoder's self-attention: causal relative buckets and a causal
    mask at absolute query positions `cache_update_index + arange(T)`. Cross-attention is
    `causal=False` with `key_value_inputs` (the encoder output), or with a precomputed
    `cache` of its keys/values (`compute_key_value`) and no `cache_update_index`.

    Call arguments:
        inputs: (B, T, D) queries (and keys/values for self-attention).
        attention_mask: optional bool/int (B, T or 1, S), which keys each query may see
            (padding); the causal mask is added on top when `causal`.
        position_bias: optional (1 or B, heads, T, S) bias from an earlier layer.
        key_value_inputs: optional (B, S, D), cross-attention keys/values source.
        cache: optional (B, 2, S, heads, head_dim) keys/values. With
            `cache_update_index` this call's keys/values are written at
            [index, index + T) and the attention runs over the whole cache; without
            it the cache is used as is (cross-attention).
        cache_update_index: int or int32 scalar tensor (may be traced).
        training: bool, attention-probability dropout.

    Returns:
        `(outputs (B, T, D), position_bias)` (the bias is None when there is none), and
        the new cache as a third element when `cache` is given.

    Args:
        num_heads: int.
        head_dim: int (T5 `d_kv`; 64 in every mT5 size).
        causal: bool, decoder self-attention (see above).
        use_relative_attention_bias: bool, this layer owns the relative bias table (the
            first layer of a stack).
        relative_attention_num_buckets: int (32).
        relative_attention_max_distance: int (128).
        dropout_rate: float, on the attention probabilities.
        **kwargs: `keras.layers.Layer` arguments (name, dtype, ...).

    Example:
        >>> attn = T5Attention(num_heads=2, head_dim=16, use_relative_attention_bias=True)
        >>> out, bias = attn(np.ones((2, 5, 32)), attention_mask=np.ones((2, 1, 5)))
        >>> out.shape, bias.shape
        ((2, 5, 32), (1, 2, 5, 5))

    Paper: "Exploring the Limits of Transfer Learning with a Unified Text-to-Text
    Transformer" (T5, https://arxiv.org/abs/1910.10683); "Self-Attention with Relative
    Position Representations" (https://arxiv.org/abs/1803.02155).
    """

    def __init__(
        self,
        num_heads,
        head_dim,
        causal=False,
        use_relative_attention_bias=False,
        relative_attention_num_buckets=32,
        relative_attention_max_distance=128,
        dropout_rate=0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = int(num_heads)
        self.head_dim = int(head_dim)
        self.causal = bool(causal)
        self.use_relative_attention_bias = bool(use_relative_attention_bias)
        self.relative_attention_num_buckets = int(relative_attention_num_buckets)
        self.relative_attention_max_distance = int(relative_attention_max_distance)
        self.dropout_rate = float(dropout_rate)
        self.dropout = keras.layers.Dropout(self.dropout_rate, name="dropout", dtype=self.dtype_policy)

    def build(self, input_shape):
        dim = input_shape[-1]
        if dim is None:
            raise ValueError(f"T5Attention needs a known last dimension, got input shape {input_shape}.")
        n, h = self.num_heads, self.head_dim

        def normal(std):
            return keras.initializers.RandomNormal(stddev=std)

        # Mesh TF / Hugging Face T5 initialisation (the query also carries 1/sqrt(head_dim)).
        self.q = self.add_weight(name="q", shape=(dim, n, h), initializer=normal((dim * h) ** -0.5))
        self.k = self.add_weight(name="k", shape=(dim, n, h), initializer=normal(dim**-0.5))
        self.v = self.add_weight(name="v", shape=(dim, n, h), initializer=normal(dim**-0.5))
        self.o = self.add_weight(name="o", shape=(n, h, dim), initializer=normal((n * h) ** -0.5))
        self.relative_attention_bias = None
        if self.use_relative_attention_bias:
            self.relative_attention_bias = self.add_weight(
                name="relative_attention_bias",
                shape=(self.relative_attention_num_buckets, n),
                initializer=normal(dim**-0.5),
            )

    def compute_position_bias(self, query_length, key_length, query_start=0):
        """Relative position bias (1, heads, query_length, key_length), float32.

        Queries sit at absolute positions `query_start + arange(query_length)` (the cache
        index during decoding), keys at `arange(key_length)`.
        """
        if self.relative_attention_bias is None:
            raise ValueError(
                f"T5Attention {self.name!r} has no relative bias table (use_relative_attention_bias=False)."
            )
        query = ops.arange(query_length, dtype="int32")[:, None] + ops.cast(query_start, "int32")
        key = ops.arange(key_length, dtype="int32")[None, :]
        buckets = t5_relative_position_bucket(
            key - query,
            bidirectional=not self.causal,
            num_buckets=self.relative_attention_num_buckets,
            max_distance=self.relative_attention_max_distance,
        )
        values = ops.take(ops.cast(self.relative_attention_bias, "float32"), buckets, axis=0)  # (T, S, heads)
        return ops.transpose(values, (2, 0, 1))[None]

    def compute_key_value(self, key_value_inputs):
        """Keys and values of `key_value_inputs` (B, S, D), stacked as a (B, 2, S, heads, head_dim) cache."""
        k = ops.einsum("bsd,dnh->bsnh", key_value_inputs, self.k)
        v = ops.einsum("bsd,dnh->bsnh", key_value_inputs, self.v)
        return ops.stack([k, v], axis=1)

    def call(
        self,
        inputs,
        attention_mask=None,
        position_bias=None,
        key_value_inputs=None,
        cache=None,
        cache_update_index=None,
        training=None,
    ):
        q = ops.einsum("btd,dnh->btnh", inputs, self.q)
        start = 0 if cache_update_index is None else cache_update_index
        if cache is not None and cache_update_index is None:
            kv = cache  # precomputed (cross-attention): the inputs give queries only
        else:
            kv = self.compute_key_value(inputs if key_value_inputs is None else key_value_inputs)
            if cache is not None:
                zero = ops.zeros((), "int32")
                cache = ops.slice_update(
                    cache, (zero, zero, ops.cast(start, "int32"), zero, zero), ops.cast(kv, cache.dtype)
                )
                kv = cache
        k = ops.cast(kv[:, 0], q.dtype)
        v = ops.cast(kv[:, 1], q.dtype)

        query_length, key_length = ops.shape(q)[1], ops.shape(k)[1]
        logits = ops.cast(ops.einsum("btnh,bsnh->bnts", q, k), "float32")
        if position_bias is None and self.relative_attention_bias is not None:
            position_bias = self.compute_position_bias(query_length, key_length, start)
        if position_bias is not None:
            logits = logits + ops.cast(position_bias, "float32")

        mask = None
        if attention_mask is not None:
            mask = ops.cast(attention_mask, "bool")[:, None, :, :]  # (B, 1, T|1, S)
        if self.causal:
            query = ops.arange(query_length, dtype="int32")[:, None] + ops.cast(start, "int32")
            causal = (ops.arange(key_length, dtype="int32")[None, :] <= query)[None, None]
            mask = causal if mask is None else ops.logical_and(mask, causal)
        if mask is not None:
            logits = ops.where(mask, logits, MASKED_LOGIT)
        probs = ops.softmax(logits, axis=-1)
        probs = ops.cast(self.dropout(probs, training=training), v.dtype)
        encoded = ops.einsum("bnts,bsnh->btnh", probs, v)
        outputs = ops.einsum("btnh,nhd->btd", encoded, self.o)
        if cache is not None:
            return outputs, position_bias, cache
        return outputs, position_bias

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "head_dim": self.head_dim,
                "causal": self.causal,
                "use_relative_attention_bias": self.use_relative_attention_bias,
                "relative_attention_num_buckets": self.relative_attention_num_buckets,
                "relative_attention_max_distance": self.relative_attention_max_distance,
                "dropout_rate": self.dropout_rate,
            }
        )
        return config

