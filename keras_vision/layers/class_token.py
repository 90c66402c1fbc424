"""Learned [cls] token prepended to a token sequence (big_vision `cls`, pool_type "tok")."""

import keras
from keras import ops

from keras_vision.api_export import keras_vision_export


@keras_vision_export("keras_vision.layers.ClassToken")
class ClassToken(keras.layers.Layer):
    """Prepends a learned token (weight `cls`, shape (1, 1, D), init zeros) to every sequence.

    In big_vision's ViT it is added after the position embedding, so it gets none.

    Args:
        initializer: default "zeros" (big_vision).
        **kwargs: `keras.layers.Layer` arguments.

    Call args:
        tokens: (batch, N, D).

    Returns:
        (batch, N + 1, D), the token first.

    Example:
        >>> ClassToken()(np.zeros((2, 16, 64))).shape
        (2, 17, 64)

    Paper: "An Image is Worth 16x16 Words" (https://arxiv.org/abs/2010.11929).
    """

    def __init__(self, initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.initializer = keras.initializers.get(initializer)

    def build(self, input_shape):
        dim = input_shape[-1]
        if dim is None:
            raise ValueError(f"ClassToken needs a known embedding size, got input shape {input_shape}.")
        self.cls = self.add_weight(name="cls", shape=(1, 1, int(dim)), initializer=self.initializer)

    def call(self, tokens):
        batch = ops.shape(tokens)[0]
        cls = ops.broadcast_to(ops.cast(self.cls, tokens.dtype), (batch, 1, tokens.shape[-1]))
        return ops.concatenate([cls, tokens], axis=1)

    def compute_output_shape(self, input_shape):
        n = input_shape[1]
        return (input_shape[0], None if n is None else n + 1, input_shape[2])

    def get_config(self):
        config = super().get_config()
        config.update({"initializer": keras.initializers.serialize(self.initializer)})
        return config
