"""T5 feed-forward block: gated-GELU (mT5 / T5 v1.1: wi_0, wi_1, wo) or ReLU (T5 v1.0: wi, wo)."""

import keras
from keras import ops

from keras_vision.api_export import keras_vision_export

ACTIVATIONS = ("gelu", "relu")


@keras_vision_export("keras_vision.models.pali.T5MLP")
class T5MLP(keras.layers.Layer):
    """T5's dense block with Hugging Face's weight names, no biases.

    Gated (mT5, T5 v1.1, "gated-gelu"): `(act(x wi_0) * (x wi_1)) wo`; ungated (T5 v1.0,
    "relu"): `act(x wi) wo`. Dropout sits on the hidden activations, as in T5.
    "gelu" is the tanh approximation (`approximate=True`, Hugging Face's "gelu_new",
    Mesh TF's `gelu`), which mT5 and T5 v1.1 use.

    Args:
        intermediate_dim: int, F (T5 `d_ff`).
        activation: "gelu" (tanh approximation) or "relu".
        use_gated_activation: bool, gated (wi_0, wi_1) or not (wi).
        dropout_rate: float, on the hidden activations.
        **kwargs: `keras.layers.Layer` arguments (name, dtype, ...).

    Example:
        >>> T5MLP(intermediate_dim=64, name="mlp")(np.ones((2, 5, 32))).shape
        (2, 5, 32)

    Papers: "GLU Variants Improve Transformer", Shazeer, 2020 (https://arxiv.org/abs/2002.05202);
    mT5 (https://arxiv.org/abs/2010.11934).
    """

    def __init__(self, intermediate_dim, activation="gelu", use_gated_activation=True, dropout_rate=0.0, **kwargs):
        super().__init__(**kwargs)
        if activation not in ACTIVATIONS:
            raise ValueError(f"Unknown T5MLP activation {activation!r}; expected one of {ACTIVATIONS}.")
        self.intermediate_dim = int(intermediate_dim)
        self.activation = activation
        self.use_gated_activation = bool(use_gated_activation)
        self.dropout_rate = float(dropout_rate)
        self.dropout = keras.layers.Dropout(self.dropout_rate, name="dropout", dtype=self.dtype_policy)

    def build(self, input_shape):
        dim = input_shape[-1]
        if dim is None:
            raise ValueError(f"T5MLP needs a known last dimension, got input shape {input_shape}.")
        f = self.intermediate_dim
        # Mesh TF / Hugging Face T5 initialisation.
        wi_init = keras.initializers.RandomNormal(stddev=dim**-0.5)
        self.wi_0 = self.wi_1 = self.wi = None
        if self.use_gated_activation:
            self.wi_0 = self.add_weight(name="wi_0", shape=(dim, f), initializer=wi_init)
            self.wi_1 = self.add_weight(name="wi_1", shape=(dim, f), initializer=wi_init)
        else:
            self.wi = self.add_weight(name="wi", shape=(dim, f), initializer=wi_init)
        wo_init = keras.initializers.RandomNormal(stddev=f**-0.5)
        self.wo = self.add_weight(name="wo", shape=(f, dim), initializer=wo_init)

    def _act(self, x):
        if self.activation == "gelu":
            return ops.gelu(x, approximate=True)
        return ops.relu(x)

    def call(self, inputs, training=None):
        if self.use_gated_activation:
            hidden = self._act(ops.matmul(inputs, self.wi_0)) * ops.matmul(inputs, self.wi_1)
        else:
            hidden = self._act(ops.matmul(inputs, self.wi))
        hidden = self.dropout(hidden, training=training)
        return ops.matmul(hidden, self.wo)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "intermediate_dim": self.intermediate_dim,
                "activation": self.activation,
                "use_gated_activation": self.use_gated_activation,
                "dropout_rate": self.dropout_rate,
            }
        )
        return config
