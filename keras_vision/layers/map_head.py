"""Multihead attention pooling (MAP): a learned probe attends over the tokens."""

import keras
from keras import ops

from keras_vision.api_export import keras_vision_export
from keras_vision.layers.layer_norm import LayerNorm
from keras_vision.layers.mlp_block import MLPBlock
from keras_vision.layers.multi_head_attention import MultiHeadAttention


@keras_vision_export("keras_vision.layers.MAPHead")
class MAPHead(keras.layers.Layer):
    """Pools a token sequence into one vector with a learned probe query (big_vision `MAPHead`).

    `h = Attn(query=probe, key=value=tokens)` (no residual from the probe), then
    `h = h + MLP(LN(h))`; returns `h[:, 0]`. Weights: `probe` (1, 1, D) xavier-uniform,
    sublayers `MultiHeadDotProductAttention_0`, `LayerNorm_0`, `MlpBlock_0`. No dropout.

    Args:
        num_heads: int.
        intermediate_dim: optional int, MLP hidden size; default 4 * D.
        use_bias: bool, biases of the attention q/k/v projections and the LayerNorm.
        qk_norm: bool.
        layer_norm_epsilon: float.
        **kwargs: `keras.layers.Layer` arguments.

    Call args:
        tokens: (batch, N, D).

    Returns:
        (batch, D).

    Example:
        >>> MAPHead(num_heads=2, intermediate_dim=128)(np.zeros((2, 16, 64))).shape
        (2, 64)

    Paper: "Scaling Vision Transformers", Zhai et al., 2021 (https://arxiv.org/abs/2106.04560);
    "Set Transformer" (https://arxiv.org/abs/1810.00825).
    """

    def __init__(
        self,
        num_heads,
        intermediate_dim=None,
        use_bias=True,
        qk_norm=False,
        layer_norm_epsilon=1e-6,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = int(num_heads)
        self.intermediate_dim = None if intermediate_dim is None else int(intermediate_dim)
        self.use_bias = bool(use_bias)
        self.qk_norm = bool(qk_norm)
        self.layer_norm_epsilon = float(layer_norm_epsilon)
        policy = self.dtype_policy
        self.attention = MultiHeadAttention(
            self.num_heads,
            use_bias=self.use_bias,
            output_use_bias=True,
            qk_norm=self.qk_norm,
            layer_norm_epsilon=self.layer_norm_epsilon,
            name="MultiHeadDotProductAttention_0",
            dtype=policy,
        )
        self.norm = LayerNorm(self.layer_norm_epsilon, use_bias=self.use_bias, name="LayerNorm_0", dtype=policy)
        self.mlp = MLPBlock(self.intermediate_dim, name="MlpBlock_0", dtype=policy)

    def build(self, input_shape):
        dim = input_shape[-1]
        if dim is None:
            raise ValueError(f"MAPHead needs a known embedding size, got input shape {input_shape}.")
        self.probe = self.add_weight(name="probe", shape=(1, 1, int(dim)), initializer="glorot_uniform")
        probe_shape = (input_shape[0], 1, int(dim))
        self.attention.build(probe_shape, input_shape)
        self.norm.build(probe_shape)
        self.mlp.build(probe_shape)

    def call(self, tokens, training=None):
        batch = ops.shape(tokens)[0]
        probe = ops.broadcast_to(ops.cast(self.probe, tokens.dtype), (batch, 1, tokens.shape[-1]))
        x = self.attention(probe, tokens, training=training)
        x = x + self.mlp(self.norm(x), training=training)
        return x[:, 0]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "intermediate_dim": self.intermediate_dim,
                "use_bias": self.use_bias,
                "qk_norm": self.qk_norm,
                "layer_norm_epsilon": self.layer_norm_epsilon,
            }
        )
        return config
