"""Gemma's RMSNorm: `x * rsqrt(mean(x^2) + eps) * (1 + scale)`, scale initialised at zero."""

import keras
from keras import ops

from keras_vision.api_export import keras_vision_export


@keras_vision_export("keras_vision.models.pali.GemmaRMSNorm")
class GemmaRMSNorm(keras.layers.Layer):
    """Root-mean-square normalization over the last axis with Gemma's `(1 + scale)` gain.

    As big_vision's `models/ppp/gemma.py::RMSNorm`: no mean subtraction, no bias, the
    learned `scale` starts at zero so the layer starts as a plain RMS normalization.
    Not `keras.layers.RMSNormalization`: that one multiplies by `scale` (init ones),
    so Gemma checkpoints would need `scale + 1` at load time. Statistics are computed
    in float32 and the result cast back to the compute dtype.

    Args:
        epsilon: float, added to the mean square. big_vision hard-codes 1e-6 (its
            `norm_eps` config field is not read by the layer).
        **kwargs: `keras.layers.Layer` arguments (name, dtype, ...).

    Example:
        >>> GemmaRMSNorm(name="final_norm")(np.ones((2, 5, 8))).shape
        (2, 5, 8)

    Paper: "Root Mean Square Layer Normalization", Zhang & Sennrich, 2019
    (https://arxiv.org/abs/1910.07467); "Gemma" (https://arxiv.org/abs/2403.08295).
    """

    # The gain is `scale_offset + scale`, `scale` initialised with `scale_initializer`.
    scale_offset = 1.0
    scale_initializer = "zeros"

    def __init__(self, epsilon=1e-6, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)

    def build(self, input_shape):
        dim = input_shape[-1]
        if dim is None:
            raise ValueError(f"{type(self).__name__} needs a known last dimension, got input shape {input_shape}.")
        self.scale = self.add_weight(name="scale", shape=(dim,), initializer=self.scale_initializer, autocast=False)

    def call(self, inputs):
        x = ops.cast(inputs, "float32")
        var = ops.mean(ops.square(x), axis=-1, keepdims=True)
        normed = x * ops.rsqrt(var + self.epsilon)
        gain = ops.cast(self.scale, "float32")
        normed = normed * (gain + self.scale_offset if self.scale_offset else gain)
        return ops.cast(normed, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"epsilon": self.epsilon})
        return config
