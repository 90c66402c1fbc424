"""Gemma's GeGLU feed-forward block: `(gelu(x W_gate) * (x W_up)) W_down`."""

import math

import keras
from keras import ops

from keras_vision.api_export import keras_vision_export

# flax's truncated-normal variance scaling divides by this so the truncated
# distribution (at +-2 std) has the requested variance.
TRUNCATED_NORMAL_STD_CORRECTION = 0.87962566103423978


def fan_in_truncated_normal(fan_in):
    """big_vision `gemma.trunc_norm_init`: truncated normal with variance 1 / fan_in."""
    return keras.initializers.TruncatedNormal(stddev=math.sqrt(1.0 / fan_in) / TRUNCATED_NORMAL_STD_CORRECTION)


@keras_vision_export("keras_vision.models.pali.GemmaMLP")
class GemmaMLP(keras.layers.Layer):
    """Gated-GELU MLP with big_vision's Gemma weight layout.

    `gating_einsum` (2, D, F) holds the gate projection ([0]) and the up projection
    ([1]); `linear` (F, D) projects back. GELU is the tanh approximation
    (`flax.linen.gelu`'s default, `approximate=True`), as Gemma uses.

    Args:
        intermediate_dim: int, F (big_vision `mlp_dim`).
        **kwargs: `keras.layers.Layer` arguments (name, dtype, ...).

    Example:
        >>> GemmaMLP(intermediate_dim=64, name="mlp")(np.ones((2, 5, 32))).shape
        (2, 5, 32)

    Paper: "GLU Variants Improve Transformer", Shazeer, 2020 (https://arxiv.org/abs/2002.05202).
    """

    def __init__(self, intermediate_dim, **kwargs):
        super().__init__(**kwargs)
        self.intermediate_dim = int(intermediate_dim)

    def build(self, input_shape):
        dim = input_shape[-1]
        if dim is None:
            raise ValueError(f"GemmaMLP needs a known last dimension, got input shape {input_shape}.")
        self.gating_einsum = self.add_weight(
            name="gating_einsum",
            shape=(2, dim, self.intermediate_dim),
            initializer=fan_in_truncated_normal(dim),
        )
        self.linear = self.add_weight(
            name="linear",
            shape=(self.intermediate_dim, dim),
            initializer=fan_in_truncated_normal(self.intermediate_dim),
        )

    def call(self, inputs):
        gate = ops.gelu(ops.matmul(inputs, self.gating_einsum[0]), approximate=True)
        up = ops.matmul(inputs, self.gating_einsum[1])
        return ops.matmul(gate * up, self.linear)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"intermediate_dim": self.intermediate_dim})
        return config
