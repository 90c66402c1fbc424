"""Pre-LN Transformer encoder block with big_vision numerics; sequential or ViT-22B parallel."""

import keras

from keras_vision.api_export import keras_vision_export
from keras_vision.layers.layer_norm import LayerNorm
from keras_vision.layers.mlp_block import MLPBlock
from keras_vision.layers.multi_head_attention import MultiHeadAttention
from keras_vision.layers.stochastic_depth import StochasticDepth

BLOCK_TYPES = ("sequential", "parallel")


@keras_vision_export("keras_vision.layers.TransformerEncoderBlock")
class TransformerEncoderBlock(keras.layers.Layer):
    """One Transformer encoder block, as big_vision's `Encoder1DBlock` (pre-LN).

    `block_type="sequential"` (ViT):
        y = x + Dropout(Attn(LN_0(x)));  out = y + Dropout(MLP(LN_1(y)))
    `block_type="parallel"` (ViT-22B, one shared LayerNorm):
        out = x + Dropout(Attn(LN_0(x))) + Dropout(MLP(LN_0(x)))

    LayerNorms use epsilon 1e-6 and float32 statistics, the MLP the tanh GELU; dropout
    sits after attention, inside the MLP after the GELU and after the MLP. Sublayers
    are named `LayerNorm_0`, `MultiHeadDotProductAttention_0`, `LayerNorm_1`
    (sequential only), `MlpBlock_0`, as big_vision's parameters.

    `use_bias=False` follows ViT-22B ("omit biases on the QKV projections and
    LayerNorms"): no bias on query/key/value nor on the LayerNorms; the attention output
    projection and the MLP keep theirs. `qk_norm=True` adds the ViT-22B LayerNorm on
    queries and keys. The ViT-22B pieces are not in big_vision; they follow the paper.

    Args:
        num_heads: int.
        intermediate_dim: optional int, MLP hidden size; default 4 * D.
        dropout_rate: float.
        attention_dropout_rate: float, dropout on attention probabilities (big_vision: 0).
        block_type: "sequential" or "parallel".
        qk_norm: bool.
        use_bias: bool.
        layer_norm_epsilon: float.
        stochastic_depth_rate: float, drop-path rate on both residual branches (extension).
        **kwargs: `keras.layers.Layer` arguments.

    Call args:
        inputs: (batch, N, D).
        attention_mask: optional boolean mask, see `MultiHeadAttention`.
        use_causal_mask: bool.
        training: bool.
        return_intermediates: bool; if True returns `(out, {"sa", "+sa", "mlp", "+mlp"})`
            with big_vision's names (parallel: "sa", "mlp", "+mlp").

    Example:
        >>> TransformerEncoderBlock(num_heads=2, intermediate_dim=128)(np.zeros((2, 16, 64))).shape
        (2, 16, 64)

    Papers: "An Image is Worth 16x16 Words" (https://arxiv.org/abs/2010.11929);
    "Scaling Vision Transformers to 22 Billion Parameters" (https://arxiv.org/abs/2302.05442).
    """

    def __init__(
        self,
        num_heads,
        intermediate_dim=None,
        dropout_rate=0.0,
        attention_dropout_rate=0.0,
        block_type="sequential",
        qk_norm=False,
        use_bias=True,
        layer_norm_epsilon=1e-6,
        stochastic_depth_rate=0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if block_type not in BLOCK_TYPES:
            raise ValueError(f"Unknown block_type {block_type!r}; expected one of {BLOCK_TYPES}.")
        self.num_heads = int(num_heads)
        self.intermediate_dim = None if intermediate_dim is None else int(intermediate_dim)
        self.dropout_rate = float(dropout_rate)
        self.attention_dropout_rate = float(attention_dropout_rate)
        self.block_type = block_type
        self.qk_norm = bool(qk_norm)
        self.use_bias = bool(use_bias)
        self.layer_norm_epsilon = float(layer_norm_epsilon)
        self.stochastic_depth_rate = float(stochastic_depth_rate)

        policy = self.dtype_policy
        self.norm_0 = LayerNorm(self.layer_norm_epsilon, use_bias=self.use_bias, name="LayerNorm_0", dtype=policy)
        self.attention = MultiHeadAttention(
            self.num_heads,
            use_bias=self.use_bias,
            output_use_bias=True,
            qk_norm=self.qk_norm,
            layer_norm_epsilon=self.layer_norm_epsilon,
            dropout_rate=self.attention_dropout_rate,
            name="MultiHeadDotProductAttention_0",
            dtype=policy,
        )
        self.norm_1 = None
        if block_type == "sequential":
            self.norm_1 = LayerNorm(self.layer_norm_epsilon, use_bias=self.use_bias, name="LayerNorm_1", dtype=policy)
        self.mlp = MLPBlock(self.intermediate_dim, dropout_rate=self.dropout_rate, name="MlpBlock_0", dtype=policy)
        self.attention_dropout = keras.layers.Dropout(self.dropout_rate, name="attention_output_dropout", dtype=policy)
        self.mlp_dropout = keras.layers.Dropout(self.dropout_rate, name="mlp_output_dropout", dtype=policy)
        self.drop_path = StochasticDepth(self.stochastic_depth_rate, name="stochastic_depth", dtype=policy)

    def build(self, input_shape):
        self.norm_0.build(input_shape)
        self.attention.build(input_shape)
        if self.norm_1 is not None:
            self.norm_1.build(input_shape)
        self.mlp.build(input_shape)

    def call(
        self,
        inputs,
        attention_mask=None,
        use_causal_mask=False,
        training=None,
        return_intermediates=False,
    ):
        out = {}
        x = inputs
        y = self.norm_0(x)
        sa = out["sa"] = self.attention(
            y, attention_mask=attention_mask, use_causal_mask=use_causal_mask, training=training
        )
        sa = self.drop_path(self.attention_dropout(sa, training=training), training=training)
        if self.block_type == "sequential":
            x = out["+sa"] = x + sa
            y = self.norm_1(x)
        mlp = out["mlp"] = self.mlp(y, training=training)
        mlp = self.drop_path(self.mlp_dropout(mlp, training=training), training=training)
        x = out["+mlp"] = x + (mlp if self.block_type == "sequential" else sa + mlp)
        if return_intermediates:
            return x, out
        return x

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "intermediate_dim": self.intermediate_dim,
                "dropout_rate": self.dropout_rate,
                "attention_dropout_rate": self.attention_dropout_rate,
                "block_type": self.block_type,
                "qk_norm": self.qk_norm,
                "use_bias": self.use_bias,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "stochastic_depth_rate": self.stochastic_depth_rate,
            }
        )
        return config
