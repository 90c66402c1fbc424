"""LayerNorm with flax/big_vision numerics: float32 statistics, eps 1e-6, `scale`/`bias`."""

import keras
from keras import ops

from keras_vision import backend as kv_backend
from keras_vision.api_export import keras_vision_export


@keras_vision_export("keras_vision.layers.LayerNorm")
class LayerNorm(keras.layers.Layer):
    """Layer normalization over the last axis, as `flax.linen.LayerNorm` computes it.

    Statistics are always computed in float32 (also under a bfloat16 policy) with
    flax's "fast variance" `E[x^2] - E[x]^2` (clamped at 0); the result is cast back
    to the compute dtype. Weights are named `scale` and `bias` like flax, so big_vision
    parameter names and regexes carry over. Not `keras.layers.LayerNormalization`:
    its default epsilon (1e-3) differs and its backward pass is slow on XLA:CPU. On
    JAX the computation is `keras_vision.backend.jax.layer_norm` (same forward, a
    hand-written backward pass: the ViT-S/16 training step on CPU got ~1.5x faster);
    on other backends the same formula in `keras.ops`.

    Args:
        epsilon: float, added to the variance. big_vision uses 1e-6.
        use_scale: bool, learn a multiplicative `scale` (init ones).
        use_bias: bool, learn an additive `bias` (init zeros). ViT-22B drops it.
        **kwargs: `keras.layers.Layer` arguments (name, dtype, ...).

    Example:
        >>> LayerNorm(name="encoder_norm")(np.ones((2, 5, 8))).shape
        (2, 5, 8)

    Paper: "Layer Normalization", Ba et al., 2016 (https://arxiv.org/abs/1607.06450).
    """

    def __init__(self, epsilon=1e-6, use_scale=True, use_bias=True, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)
        self.use_scale = bool(use_scale)
        self.use_bias = bool(use_bias)
        self.supports_masking = True

    def build(self, input_shape):
        dim = input_shape[-1]
        if dim is None:
            raise ValueError(f"LayerNorm needs a known last dimension, got input shape {input_shape}.")
        self.scale = None
        self.bias = None
        if self.use_scale:
            self.scale = self.add_weight(name="scale", shape=(dim,), initializer="ones", autocast=False)
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(dim,), initializer="zeros", autocast=False)

    def call(self, inputs):
        # scale/bias are not autocast (add_weight(autocast=False)): full f32 under mixed policies.
        # On JAX the kernel has a hand-written backward pass (faster on XLA:CPU, see
        # keras_vision/backend/jax/layer_norm.py); elsewhere the same formula in keras.ops.
        x = ops.cast(inputs, self.compute_dtype)
        scale = None if self.scale is None else ops.convert_to_tensor(self.scale)
        bias = None if self.bias is None else ops.convert_to_tensor(self.bias)
        return kv_backend.layer_norm(x, scale, bias, self.epsilon)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"epsilon": self.epsilon, "use_scale": self.use_scale, "use_bias": self.use_bias})
        return config
