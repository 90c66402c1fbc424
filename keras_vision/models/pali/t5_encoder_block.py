"""One T5 encoder block: pre-norm bidirectional self-attention and MLP, each with a residual."""

import keras

from keras_vision.api_export import keras_vision_export
from keras_vision.models.pali.t5_attention import T5Attention
from keras_vision.models.pali.t5_mlp import T5MLP
from keras_vision.models.pali.t5_rms_norm import T5RMSNorm


# Constructor arguments (and config keys) of the encoder and decoder blocks.
BLOCK_ARGS = ("num_heads", "head_dim", "intermediate_dim", "activation", "use_gated_activation",
              "use_relative_attention_bias", "relative_attention_num_buckets", "relative_attention_max_distance",
              "layer_norm_epsilon", "dropout_rate")


@keras_vision_export("keras_vision.models.pali.T5EncoderBlock")
class T5EncoderBlock(keras.layers.Layer):
    """T5 / mT5 encoder layer: `x + drop(attn(norm(x)))`, then `y + drop(mlp(norm(y)))`.

    Sub-layers (and weight paths): `pre_self_attention_norm`, `self_attention`,
    `pre_mlp_norm`, `mlp` (Hugging Face `layer.0.layer_norm`, `layer.0.SelfAttention`,
    `layer.1.layer_norm`, `layer.1.DenseReluDense`). The first block of a stack owns the
    relative position bias (`use_relative_attention_bias=True`) and returns it; the rest
    take it as `position_bias`.

    Call arguments:
        inputs: (B, S, D).
        attention_mask: optional (B, 1 or S, S) bool/int, which keys are valid (padding).
        position_bias: optional (1, heads, S, S), the first block's bias.
        training: bool, dropout on/off.

    Returns:
        `(outputs (B, S, D), position_bias)`.

    Args:
        num_heads, head_dim: ints, as `T5Attention`.
        intermediate_dim: int, MLP size (T5 `d_ff`).
        activation, use_gated_activation: as `T5MLP`.
        use_relative_attention_bias: bool, this block computes the position bias.
        relative_attention_num_buckets, relative_attention_max_distance: ints (32, 128).
        layer_norm_epsilon: float (1e-6).
        dropout_rate: float, T5's dropout (attention probabilities, MLP hidden, residual branches).
        **kwargs: `keras.layers.Layer` arguments (name, dtype, ...).

    Example:
        >>> block = T5EncoderBlock(num_heads=2, head_dim=16, intermediate_dim=64, use_relative_attention_bias=True)
        >>> x, bias = block(np.ones((2, 5, 32)), attention_mask=np.ones((2, 1, 5)))
        >>> x.shape
        (2, 5, 32)

    Paper: T5 (https://arxiv.org/abs/1910.10683); mT5 (https://arxiv.org/abs/2010.11934).
    """

    causal = False  # the decoder block's self-attention is causal

    def __init__(
        self,
        num_heads,
        head_dim,
        intermediate_dim,
        activation="gelu",
        use_gated_activation=True,
        use_relative_attention_bias=False,
        relative_attention_num_buckets=32,
        relative_attention_max_distance=128,
        layer_norm_epsilon=1e-6,
        dropout_rate=0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = int(num_heads)
        self.head_dim = int(head_dim)
        self.intermediate_dim = int(intermediate_dim)
        self.activation = activation
        self.use_gated_activation = bool(use_gated_activation)
        self.use_relative_attention_bias = bool(use_relative_attention_bias)
        self.relative_attention_num_buckets = int(relative_attention_num_buckets)
        self.relative_attention_max_distance = int(relative_attention_max_distance)
        self.layer_norm_epsilon = float(layer_norm_epsilon)
        self.dropout_rate = float(dropout_rate)

        dtype = self.dtype_policy
        self.pre_self_attention_norm = T5RMSNorm(self.layer_norm_epsilon, name="pre_self_attention_norm", dtype=dtype)
        self.self_attention = T5Attention(
            self.num_heads,
            self.head_dim,
            causal=self.causal,
            use_relative_attention_bias=self.use_relative_attention_bias,
            relative_attention_num_buckets=self.relative_attention_num_buckets,
            relative_attention_max_distance=self.relative_attention_max_distance,
            dropout_rate=self.dropout_rate,
            name="self_attention",
            dtype=dtype,
        )
        self.pre_mlp_norm = T5RMSNorm(self.layer_norm_epsilon, name="pre_mlp_norm", dtype=dtype)
        self.mlp = T5MLP(
            self.intermediate_dim,
            activation=self.activation,
            use_gated_activation=self.use_gated_activation,
            dropout_rate=self.dropout_rate,
            name="mlp",
            dtype=dtype,
        )
        self.dropout = keras.layers.Dropout(self.dropout_rate, name="dropout", dtype=dtype)

    def build(self, input_shape):
        self.pre_self_attention_norm.build(input_shape)
        self.self_attention.build(input_shape)
        self.pre_mlp_norm.build(input_shape)
        self.mlp.build(input_shape)

    def call(self, inputs, attention_mask=None, position_bias=None, training=None):
        x = inputs
        attn, position_bias = self.self_attention(
            self.pre_self_attention_norm(x),
            attention_mask=attention_mask,
            position_bias=position_bias,
            training=training,
        )
        x = x + self.dropout(attn, training=training)
        y = self.mlp(self.pre_mlp_norm(x), training=training)
        return x + self.dropout(y, training=training), position_bias

    def get_config(self):
        config = super().get_config()
        config.update({name: getattr(self, name) for name in BLOCK_ARGS})
        return config
