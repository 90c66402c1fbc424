"""One T5 decoder block: causal self-attention, cross-attention to the encoder, MLP (pre-norm, residuals)."""

from keras_vision.api_export import keras_vision_export
from keras_vision.models.pali.t5_attention import T5Attention
from keras_vision.models.pali.t5_encoder_block import T5EncoderBlock
from keras_vision.models.pali.t5_rms_norm import T5RMSNorm


@keras_vision_export("keras_vision.models.pali.T5DecoderBlock")
class T5DecoderBlock(T5EncoderBlock):
    """T5 / mT5 decoder layer with an optional fixed-size self-attention KV cache.

    `x + drop(self_attn(norm(x)))` (causal, relative bias), `y + drop(cross_attn(norm(y),
    encoder_output))` (no position bias), `z + drop(mlp(norm(z)))`. Sub-layers (weight
    paths): `pre_self_attention_norm`, `self_attention`, `pre_cross_attention_norm`,
    `cross_attention`, `pre_mlp_norm`, `mlp` (Hugging Face `layer.0`, `layer.1`
    `EncDecAttention`, `layer.2`).

    Call arguments:
        inputs: (B, T, D) decoder states.
        encoder_output: (B, S, D); not needed when `cross_attention_cache` is given.
        self_attention_mask: optional (B, 1 or T, T_keys) bool/int padding mask of the
            decoder keys (the causal mask is always applied on top).
        cross_attention_mask: optional (B, 1 or T, S), which encoder positions are valid.
        position_bias: optional (1, heads, T, T_keys), the first block's bias.
        self_attention_cache: optional (B, 2, C, heads, head_dim); this call's keys/values
            are written at `cache_update_index` (queries at absolute positions
            `cache_update_index + arange(T)`) and the new cache is returned.
        cache_update_index: int or int32 scalar tensor (may be traced), default 0.
        cross_attention_cache: optional (B, 2, S, heads, head_dim) from
            `cross_attention_key_value(encoder_output)`, reused as is.
        training: bool, dropout on/off.

    Returns:
        `(outputs (B, T, D), position_bias)`, plus the new self-attention cache as a
        third element when `self_attention_cache` is given.

    Args:
        As `T5EncoderBlock`.

    Example:
        >>> block = T5DecoderBlock(num_heads=2, head_dim=16, intermediate_dim=64, use_relative_attention_bias=True)
        >>> y, bias = block(np.ones((2, 3, 32)), encoder_output=np.ones((2, 5, 32)))
        >>> y.shape
        (2, 3, 32)

    Paper: T5 (https://arxiv.org/abs/1910.10683); mT5 (https://arxiv.org/abs/2010.11934).
    """

    causal = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        dtype = self.dtype_policy
        self.pre_cross_attention_norm = T5RMSNorm(
            self.layer_norm_epsilon, name="pre_cross_attention_norm", dtype=dtype
        )
        self.cross_attention = T5Attention(
            self.num_heads,
            self.head_dim,
            causal=False,
            use_relative_attention_bias=False,
            dropout_rate=self.dropout_rate,
            name="cross_attention",
            dtype=dtype,
        )

    def build(self, input_shape):
        self.pre_self_attention_norm.build(input_shape)
        self.self_attention.build(input_shape)
        self.pre_cross_attention_norm.build(input_shape)
        self.cross_attention.build(input_shape)  # T5's encoder and decoder share the width D
        self.pre_mlp_norm.build(input_shape)
        self.mlp.build(input_shape)

    def cross_attention_key_value(self, encoder_output):
        """Cross-attention keys/values of `encoder_output` (B, S, D): a (B, 2, S, heads, head_dim) cache."""
        return self.cross_attention.compute_key_value(encoder_output)

    def call(
        self,
        inputs,
        encoder_output=None,
        self_attention_mask=None,
        cross_attention_mask=None,
        position_bias=None,
        self_attention_cache=None,
        cache_update_index=None,
        cross_attention_cache=None,
        training=None,
    ):
        if encoder_output is None and cross_attention_cache is None:
            raise ValueError("T5DecoderBlock needs encoder_output or cross_attention_cache; got neither.")
        if self_attention_cache is not None and cache_update_index is None:
            cache_update_index = 0
        x = inputs
        out = self.self_attention(
            self.pre_self_attention_norm(x),
            attention_mask=self_attention_mask,
            position_bias=position_bias,
            cache=self_attention_cache,
            cache_update_index=cache_update_index,
            training=training,
        )
        if self_attention_cache is not None:
            attn, position_bias, self_attention_cache = out
        else:
            attn, position_bias = out
        x = x + self.dropout(attn, training=training)

        cross = self.cross_attention(
            self.pre_cross_attention_norm(x),
            attention_mask=cross_attention_mask,
            key_value_inputs=encoder_output if cross_attention_cache is None else None,
            cache=cross_attention_cache,
            training=training,
        )[0]
        x = x + self.dropout(cross, training=training)
        y = self.mlp(self.pre_mlp_norm(x), training=training)
        x = x + self.dropout(y, training=training)
        if self_attention_cache is not None:
            return x, position_bias, self_attention_cache
        return x, position_bias
