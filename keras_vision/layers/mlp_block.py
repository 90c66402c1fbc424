"""Transformer MLP block: Dense -> tanh-GELU -> Dropout -> Dense (big_vision `MlpBlock`)."""

import keras

from keras_vision.api_export import keras_vision_export
from keras_vision.layers._utils import big_vision_mlp_bias_initializer

APPROXIMATE_GELU = "gelu_approximate"


def get_activation(name):
    """`"gelu_approximate"` is the tanh GELU (flax `nn.gelu` default); else a Keras activation."""
    if name == APPROXIMATE_GELU:
        return lambda x: keras.activations.gelu(x, approximate=True)
    return keras.activations.get(name)


@keras_vision_export("keras_vision.layers.MLPBlock")
class MLPBlock(keras.layers.Layer):
    """Two-layer feed-forward block of a Transformer, as big_vision's `MlpBlock`.

    `Dense_0(intermediate_dim)` -> GELU (tanh approximation, flax's default; Keras'
    `gelu` defaults to the erf form) -> `Dropout` -> `Dense_1(output_dim)`. Kernels are
    xavier-uniform and biases normal(1e-6), as in big_vision. Sublayers are named
    `Dense_0` / `Dense_1` so variable paths end in big_vision's names.

    Args:
        intermediate_dim: optional int, hidden size; default 4 * input dim.
        output_dim: optional int, default the input dim.
        dropout_rate: float, dropout after the activation.
        use_bias: bool.
        activation: "gelu_approximate" (default) or a Keras activation name.
        kernel_initializer: default "glorot_uniform".
        bias_initializer: default normal(stddev=1e-6).
        **kwargs: `keras.layers.Layer` arguments.

    Example:
        >>> MLPBlock(intermediate_dim=128)(np.zeros((2, 16, 64))).shape
        (2, 16, 64)

    Paper: "Attention Is All You Need", Vaswani et al., 2017 (https://arxiv.org/abs/1706.03762).
    """

    def __init__(
        self,
        intermediate_dim=None,
        output_dim=None,
        dropout_rate=0.0,
        use_bias=True,
        activation=APPROXIMATE_GELU,
        kernel_initializer="glorot_uniform",
        bias_initializer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.intermediate_dim = None if intermediate_dim is None else int(intermediate_dim)
        self.output_dim = None if output_dim is None else int(output_dim)
        self.dropout_rate = float(dropout_rate)
        self.use_bias = bool(use_bias)
        self.activation = activation
        self._activation_fn = get_activation(activation)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(
            bias_initializer if bias_initializer is not None else big_vision_mlp_bias_initializer()
        )
        self.dropout = keras.layers.Dropout(self.dropout_rate, dtype=self.dtype_policy, name="dropout")

    def build(self, input_shape):
        dim = input_shape[-1]
        if dim is None:
            raise ValueError(f"MLPBlock needs a known last dimension, got input shape {input_shape}.")
        common = dict(
            use_bias=self.use_bias,
            kernel_initializer=self.kernel_initializer,
            bias_initializer=self.bias_initializer,
            dtype=self.dtype_policy,
        )
        self.dense_0 = keras.layers.Dense(self.intermediate_dim or 4 * int(dim), name="Dense_0", **common)
        self.dense_1 = keras.layers.Dense(self.output_dim or int(dim), name="Dense_1", **common)
        self.dense_0.build(input_shape)
        self.dense_1.build((*input_shape[:-1], self.dense_0.units))

    def call(self, inputs, training=None):
        x = self._activation_fn(self.dense_0(inputs))
        x = self.dropout(x, training=training)
        return self.dense_1(x)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.output_dim or input_shape[-1])

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "intermediate_dim": self.intermediate_dim,
                "output_dim": self.output_dim,
                "dropout_rate": self.dropout_rate,
                "use_bias": self.use_bias,
                "activation": self.activation,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            }
        )
        return config
