"""Learned position embedding on a fixed token grid (big_vision `pos_embedding`)."""

import keras
import numpy as np
from keras import ops

from keras_vision.api_export import keras_vision_export
from keras_vision.sizes import to_pair
from keras_vision.layers.posemb_utils import resample_posemb_align_corners


def _flatten_grid(tokens, dynamic=False):
    """(B, h, w, D) -> ((B, h*w, D), (h, w)); (B, N, D) -> (itself, None).

    With `dynamic`, a grid of unknown size while tracing is allowed: (h, w) are then
    the run-time sizes (scalar tensors) where the static ones are unknown.
    """
    if len(tokens.shape) == 4:
        h, w, d = tokens.shape[1], tokens.shape[2], tokens.shape[3]
        if h is None or w is None:
            if not dynamic:
                raise ValueError(f"Position embeddings need a static token grid, got shape {tokens.shape}.")
            shape = ops.shape(tokens)
            h, w = shape[1], shape[2]
            return ops.reshape(tokens, (-1, h * w, d)), (h, w)
        return ops.reshape(tokens, (-1, h * w, d)), (int(h), int(w))
    if len(tokens.shape) == 3:
        return tokens, None
    raise ValueError(f"Expected tokens (batch, h, w, D) or (batch, N, D), got shape {tokens.shape}.")


@keras_vision_export("keras_vision.layers.PositionEmbedding")
class PositionEmbedding(keras.layers.Layer):
    """Adds a learned position embedding to a token grid and flattens it to tokens.

    The weight `embeddings` has shape (1, grid_h * grid_w, D), big_vision's
    `pos_embedding`; it is added before any [cls] token is prepended. The grid is
    fixed (so a model using it needs a static `image_shape`): to use another resolution, build a new layer/model and copy the table
    with `set_embeddings(table)`, which resamples it (align-corners bilinear, as
    big_vision does at load time). FlexiViT's run-time resizing is a separate layer.

    Args:
        grid_size: optional int or (h, w); inferred from a (batch, h, w, D) input at build.
        embeddings_initializer: default normal(stddev=1/sqrt(D)) (big_vision).
        **kwargs: `keras.layers.Layer` arguments.

    Call args:
        tokens: (batch, h, w, D) grid, or (batch, h*w, D) tokens.

    Returns:
        (batch, h*w, D) tokens with the embedding added.

    Example:
        >>> PositionEmbedding()(np.zeros((2, 4, 4, 64))).shape
        (2, 16, 64)

    Paper: "An Image is Worth 16x16 Words" (https://arxiv.org/abs/2010.11929).
    """

    def __init__(self, grid_size=None, embeddings_initializer=None, **kwargs):
        super().__init__(**kwargs)
        self.grid_size = None if grid_size is None else to_pair(grid_size, "grid_size")
        self.embeddings_initializer = (
            None if embeddings_initializer is None else keras.initializers.get(embeddings_initializer)
        )

    def build(self, input_shape):
        dim = input_shape[-1]
        if dim is None:
            raise ValueError(f"PositionEmbedding needs a known embedding size, got input shape {input_shape}.")
        if self.grid_size is None:
            if len(input_shape) != 4 or input_shape[1] is None or input_shape[2] is None:
                raise ValueError(
                    "PositionEmbedding needs `grid_size` or a (batch, h, w, D) input with static h, w; "
                    f"got input shape {input_shape}."
                )
            self.grid_size = (int(input_shape[1]), int(input_shape[2]))
        self.hidden_dim = int(dim)
        initializer = self.embeddings_initializer
        if initializer is None:
            initializer = keras.initializers.RandomNormal(stddev=float(1.0 / np.sqrt(self.hidden_dim)))
        self.embeddings = self.add_weight(
            name="embeddings",
            shape=(1, self.grid_size[0] * self.grid_size[1], self.hidden_dim),
            initializer=initializer,
        )

    def call(self, tokens):
        tokens, grid = _flatten_grid(tokens)
        expected = self.grid_size[0] * self.grid_size[1]
        if (grid is not None and grid != self.grid_size) or (tokens.shape[1] not in (None, expected)):
            got = grid if grid is not None else tokens.shape[1]
            raise ValueError(
                f"PositionEmbedding was built for a {self.grid_size} grid, got {got}. Build the model at the "
                "new image_shape and copy the table with `set_embeddings` (align-corners resampling)."
            )
        return tokens + self.embeddings

    def set_embeddings(self, table, old_grid=None):
        """Assigns `table` (1, N, D), resampled (align-corners) from its grid to this layer's grid.

        Args:
            table: array (1, N, D) (N = old_h * old_w).
            old_grid: optional (h, w) of `table`; inferred when square.
        """
        if not self.built:
            raise ValueError("PositionEmbedding.set_embeddings needs a built layer (call it once first).")
        table = resample_posemb_align_corners(np.asarray(table), self.grid_size, old_grid=old_grid)
        if table.shape[-1] != self.hidden_dim:
            raise ValueError(f"Position embedding width {table.shape[-1]} != layer width {self.hidden_dim}.")
        self.embeddings.assign(table.astype(self.embeddings.dtype))

    def compute_output_shape(self, input_shape):
        if len(input_shape) == 4:
            h, w = input_shape[1], input_shape[2]
            return (input_shape[0], None if h is None or w is None else h * w, input_shape[-1])
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "grid_size": self.grid_size,
                "embeddings_initializer": None
                if self.embeddings_initializer is None
                else keras.initializers.serialize(self.embeddings_initializer),
            }
        )
        return config
