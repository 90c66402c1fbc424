"""One Gemma decoder block: pre-norm attention and GeGLU MLP with residuals (optional Gemma 2 post-norms)."""

import keras

from keras_vision.api_export import keras_vision_export
from keras_vision.models.pali.gemma_attention import ATTENTION_ARGS
from keras_vision.models.pali.gemma_attention import GemmaAttention
from keras_vision.models.pali.gemma_mlp import GemmaMLP
from keras_vision.models.pali.gemma_rms_norm import GemmaRMSNorm


_BLOCK_ARGS = ("intermediate_dim", "use_post_attention_norm", "use_post_ffw_norm", "layer_norm_epsilon", "dropout_rate")


@keras_vision_export("keras_vision.models.pali.GemmaDecoderBlock")
class GemmaDecoderBlock(keras.layers.Layer):
    """Gemma transformer block with big_vision's sub-layer names and order.

    `x + drop(post_attention_norm?(attn(pre_attention_norm(x))))`, then
    `y + post_ffw_norm?(drop(mlp(pre_ffw_norm(y))))`. Sub-layers (and so weight paths)
    are `pre_attention_norm`, `attn`, `pre_ffw_norm`, `mlp` and, with post-norms,
    `post_attention_norm`, `post_ffw_norm`, as in big_vision's `gemma.Block`.

    Call arguments:
        inputs: (B, T, D).
        attention_mask: (B, T, S) bool/int.
        cache, cache_update_index, positions: as `GemmaAttention`; with a cache the
            block returns `(outputs, new_cache)`.
        training: bool, dropout on/off.

    Args:
        num_heads, num_key_value_heads, head_dim, query_head_dim_normalize,
            attention_logit_soft_cap: as `GemmaAttention`.
        intermediate_dim: int, MLP size F.
        use_post_attention_norm, use_post_ffw_norm: bool, Gemma 2's extra RMSNorms
            (big_vision `post_norms` sets both).
        layer_norm_epsilon: float, RMSNorm epsilon (1e-6 in big_vision).
        dropout_rate: float, on the attention and MLP outputs (big_vision `dropout`).
        **kwargs: `keras.layers.Layer` arguments (name, dtype, ...).

    Example:
        >>> block = GemmaDecoderBlock(num_heads=2, num_key_value_heads=1, head_dim=16, intermediate_dim=64)
        >>> block(np.ones((2, 5, 32)), attention_mask=np.tril(np.ones((5, 5)))[None]).shape
        (2, 5, 32)

    Paper: "Gemma" (https://arxiv.org/abs/2403.08295); "Gemma 2" (https://arxiv.org/abs/2408.00118).
    """

    def __init__(
        self,
        num_heads,
        num_key_value_heads,
        head_dim,
        intermediate_dim,
        query_head_dim_normalize=True,
        attention_logit_soft_cap=None,
        use_post_attention_norm=False,
        use_post_ffw_norm=False,
        layer_norm_epsilon=1e-6,
        dropout_rate=0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = int(num_heads)
        self.num_key_value_heads = int(num_key_value_heads)
        self.head_dim = int(head_dim)
        self.intermediate_dim = int(intermediate_dim)
        self.query_head_dim_normalize = bool(query_head_dim_normalize)
        self.attention_logit_soft_cap = float(attention_logit_soft_cap) if attention_logit_soft_cap else None
        self.use_post_attention_norm = bool(use_post_attention_norm)
        self.use_post_ffw_norm = bool(use_post_ffw_norm)
        self.layer_norm_epsilon = float(layer_norm_epsilon)
        self.dropout_rate = float(dropout_rate)

        dtype = self.dtype_policy
        self.pre_attention_norm = GemmaRMSNorm(self.layer_norm_epsilon, name="pre_attention_norm", dtype=dtype)
        self.attn = GemmaAttention(**{name: getattr(self, name) for name in ATTENTION_ARGS}, name="attn", dtype=dtype)
        self.post_attention_norm = None
        if self.use_post_attention_norm:
            self.post_attention_norm = GemmaRMSNorm(self.layer_norm_epsilon, name="post_attention_norm", dtype=dtype)
        self.pre_ffw_norm = GemmaRMSNorm(self.layer_norm_epsilon, name="pre_ffw_norm", dtype=dtype)
        self.mlp = GemmaMLP(self.intermediate_dim, name="mlp", dtype=dtype)
        self.post_ffw_norm = None
        if self.use_post_ffw_norm:
            self.post_ffw_norm = GemmaRMSNorm(self.layer_norm_epsilon, name="post_ffw_norm", dtype=dtype)
        self.dropout = keras.layers.Dropout(self.dropout_rate, name="dropout", dtype=dtype)

    def build(self, input_shape):
        # Built in big_vision's order so weights enumerate like its checkpoint.
        self.pre_attention_norm.build(input_shape)
        self.attn.build(input_shape)
        if self.post_attention_norm is not None:
            self.post_attention_norm.build(input_shape)
        self.pre_ffw_norm.build(input_shape)
        self.mlp.build(input_shape)
        if self.post_ffw_norm is not None:
            self.post_ffw_norm.build(input_shape)

    def call(self, inputs, attention_mask, cache=None, cache_update_index=None, positions=None, training=None):
        x = inputs
        attn = self.attn(
            self.pre_attention_norm(x),
            attention_mask=attention_mask,
            cache=cache,
            cache_update_index=cache_update_index,
            positions=positions,
        )
        if cache is not None:
            attn, cache = attn
        if self.post_attention_norm is not None:
            attn = self.post_attention_norm(attn)
        x = x + self.dropout(attn, training=training)
        y = self.dropout(self.mlp(self.pre_ffw_norm(x)), training=training)
        if self.post_ffw_norm is not None:
            y = self.post_ffw_norm(y)
        x = x + y
        if cache is not None:
            return x, cache
        return x

    def get_config(self):
        config = super().get_config()
        config.update({name: getattr(self, name) for name in ATTENTION_ARGS + _BLOCK_ARGS})
        return config
