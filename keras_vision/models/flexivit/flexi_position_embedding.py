"""FlexiViT's position embedding: learned on a fixed grid, resized to any token grid."""

import keras
import numpy as np
from keras import ops

from keras_vision.api_export import keras_vision_export
from keras_vision.sizes import to_pair
from keras_vision.layers.pi_resize import resize_grid_ops
from keras_vision.layers.posemb_utils import posemb_sincos_2d


@keras_vision_export("keras_vision.models.flexivit.FlexiPositionEmbedding")
class FlexiPositionEmbedding(keras.layers.Layer):
    """Adds a position embedding stored on `grid_size`, resized to the input's token grid.

    The table is a weight `embeddings` of shape (1, grid_h * grid_w, D) (big_vision's
    `pos_embedding`). Each call bilinearly resizes it (half-pixel centres) to the
    (h, w) of the incoming token grid, then adds it and flattens the grid to tokens.
    `antialias=True` reproduces big_vision FlexiViT's `jax.image.resize(..., "linear")`,
    whose antialiasing widens the filter when the grid shrinks (e.g. 7x7 -> 5x5);
    upsampling is identical either way. The token grid may have a size known only at
    run time (a model with `image_shape=(None, None, 3)`): the resize matrices are then
    computed in the graph, as big_vision resizes to the grid of every call.

    Args:
        grid_size: int or (height, width), the stored grid (big_vision `posemb_size`).
        posemb: "learn" (a trainable table, init normal(1/sqrt(D))) or "sincos2d"
            (a fixed table computed at `grid_size`, no weight).
        antialias: bool, see above. Default True (big_vision).
        **kwargs: `keras.layers.Layer` arguments.

    Call args:
        tokens: (batch, h, w, D) token grid.

    Returns:
        (batch, h * w, D) tokens with the position embedding added.

    Example:
        >>> layer = FlexiPositionEmbedding(grid_size=7)
        >>> layer(np.zeros((2, 15, 15, 64))).shape
        (2, 225, 64)

    Paper: "FlexiViT: One Model for All Patch Sizes" (https://arxiv.org/abs/2212.08013).
    """

    def __init__(self, grid_size=7, posemb="learn", antialias=True, **kwargs):
        super().__init__(**kwargs)
        self.grid_size = to_pair(grid_size, "grid_size")
        if posemb not in ("learn", "sincos2d"):
            raise ValueError(f"Unknown posemb '{posemb}'; expected one of 'learn', 'sincos2d'.")
        self.posemb = posemb
        self.antialias = bool(antialias)

    def build(self, input_shape):
        dim = input_shape[-1]
        if dim is None:
            raise ValueError(f"FlexiPositionEmbedding needs a known embedding size, got input shape {input_shape}.")
        self.hidden_dim = int(dim)
        n = self.grid_size[0] * self.grid_size[1]
        if self.posemb == "learn":
            self.embeddings = self.add_weight(
                name="embeddings",
                shape=(1, n, self.hidden_dim),
                initializer=keras.initializers.RandomNormal(stddev=float(1.0 / np.sqrt(self.hidden_dim))),
            )
        else:
            self.embeddings = None
            self._table = posemb_sincos_2d(*self.grid_size, self.hidden_dim)

    def grid_embedding(self, grid_hw):
        """The (1, h*w, D) embedding for a token grid of size `grid_hw`.

        `grid_hw`: int or (h, w); the sizes may be run-time scalar tensors.
        """
        static = isinstance(grid_hw, (int, np.integer)) or all(isinstance(s, (int, np.integer)) for s in grid_hw)
        if static:
            grid_hw = to_pair(grid_hw, "grid_hw")
        table = self.embeddings if self.posemb == "learn" else self._table
        table = ops.cast(table, self.compute_dtype)
        if static and grid_hw == self.grid_size:
            return table
        table = ops.reshape(table, (1, *self.grid_size, self.hidden_dim))
        table = resize_grid_ops(table, grid_hw, antialias=self.antialias)
        return ops.reshape(table, (1, -1, self.hidden_dim))

    def call(self, tokens):
        if len(tokens.shape) != 4:
            raise ValueError(f"FlexiPositionEmbedding expects a (batch, h, w, D) token grid, got shape {tokens.shape}.")
        h, w = tokens.shape[1], tokens.shape[2]
        if h is None or w is None:  # known only at run time
            shape = ops.shape(tokens)
            h, w = shape[1], shape[2]
        tokens = ops.reshape(tokens, (-1, h * w, tokens.shape[-1]))
        return tokens + self.grid_embedding((h, w))

    def compute_output_shape(self, input_shape):
        h, w = input_shape[1], input_shape[2]
        return (input_shape[0], None if h is None or w is None else h * w, input_shape[-1])

    def get_config(self):
        config = super().get_config()
        config.update({"grid_size": self.grid_size, "posemb": self.posemb, "antialias": self.antialias})
        return config
