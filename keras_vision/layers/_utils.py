"""Small helpers shared by the layers (not public API)."""

import math

import keras
from keras import ops


class FlatFanInitializer:
    """Initializes a multi-axis kernel as if it were 2-D (fan_in, fan_out), then reshapes.

    flax's `DenseGeneral` (used by `MultiHeadDotProductAttention`) computes fans on the
    flattened kernel: query (D, H, Dh) is initialized as (D, H*Dh) and out (H, Dh, D)
    as (H*Dh, D). Keras initializers would treat the leading axes as a receptive field.
    """

    def __init__(self, initializer, num_in_axes):
        self.initializer = initializer
        self.num_in_axes = num_in_axes

    def __call__(self, shape, dtype=None):
        fan_in = math.prod(shape[: self.num_in_axes])
        fan_out = math.prod(shape[self.num_in_axes :])
        return ops.reshape(self.initializer((fan_in, fan_out), dtype=dtype), shape)


def big_vision_mlp_bias_initializer():
    """normal(stddev=1e-6): big_vision's MlpBlock bias init."""
    return keras.initializers.RandomNormal(stddev=1e-6)
