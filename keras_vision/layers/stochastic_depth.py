"""Stochastic depth (drop-path): drops a residual branch per example during training."""

import keras
from keras import ops

from keras_vision.api_export import keras_vision_export


@keras_vision_export("keras_vision.layers.StochasticDepth")
class StochasticDepth(keras.layers.Layer):
    """Zeroes the whole input of an example with probability `rate` (training only), else scales by 1/(1-rate).

    Applied to a residual branch, `x + StochasticDepth(rate)(f(x))` skips `f` for some
    examples. Not part of big_vision's ViT (an extension, off by default).

    Args:
        rate: float in [0, 1).
        seed: optional int.
        **kwargs: `keras.layers.Layer` arguments.

    Example:
        >>> StochasticDepth(0.1)(np.ones((4, 16, 64)), training=True).shape
        (4, 16, 64)

    Paper: "Deep Networks with Stochastic Depth", Huang et al., 2016 (https://arxiv.org/abs/1603.09382).
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= float(rate) < 1.0:
            raise ValueError(f"StochasticDepth rate must be in [0, 1), got {rate}.")
        self.rate = float(rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed) if self.rate > 0 else None

    def call(self, inputs, training=None):
        if not training or self.rate == 0.0:
            return inputs
        keep = 1.0 - self.rate
        shape = (ops.shape(inputs)[0],) + (1,) * (len(inputs.shape) - 1)
        noise = keras.random.uniform(shape, seed=self.seed_generator, dtype=inputs.dtype)
        mask = ops.floor(keep + noise)
        return inputs * mask / ops.cast(keep, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"rate": self.rate, "seed": self.seed})
        return config
