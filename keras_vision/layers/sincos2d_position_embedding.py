"""Fixed 2-D sin-cos position embedding (big_vision `posemb="sincos2d"`)."""

import keras
from keras import ops

from keras_vision.api_export import keras_vision_export
from keras_vision.sizes import to_pair
from keras_vision.layers.posemb_utils import posemb_sincos_2d
from keras_vision.layers.posemb_utils import posemb_sincos_2d_ops
from keras_vision.layers.position_embedding import _flatten_grid


@keras_vision_export("keras_vision.layers.SinCos2DPositionEmbedding")
class SinCos2DPositionEmbedding(keras.layers.Layer):
    """Adds the fixed 2-D sin-cos table (no weights) to a token grid and flattens it.

    The table comes from `keras_vision.layers.posemb_sincos_2d` for the grid of the
    incoming tokens, so any grid works: a static one gets the numpy table as a
    constant, one known only at run time (a model with `image_shape=(None, None, 3)`
    traced at unknown sizes) the same table computed in the graph
    (`posemb_sincos_2d_ops`), as big_vision computes it from the grid on every call.

    Args:
        grid_size: optional int or (h, w); required only for (batch, N, D) inputs.
        temperature: float, default 10000.
        **kwargs: `keras.layers.Layer` arguments.

    Call args:
        tokens: (batch, h, w, D) grid, or (batch, h*w, D) with `grid_size` set.

    Returns:
        (batch, h*w, D).

    Example:
        >>> SinCos2DPositionEmbedding()(np.zeros((2, 4, 4, 64))).shape
        (2, 16, 64)

    Paper: "Better plain ViT baselines for ImageNet-1k", Beyer et al., 2022
    (https://arxiv.org/abs/2205.01580).
    """

    def __init__(self, grid_size=None, temperature=10_000.0, **kwargs):
        super().__init__(**kwargs)
        self.grid_size = None if grid_size is None else to_pair(grid_size, "grid_size")
        self.temperature = float(temperature)

    def call(self, tokens):
        tokens, grid = _flatten_grid(tokens, dynamic=True)
        if grid is None:
            if self.grid_size is None:
                raise ValueError("SinCos2DPositionEmbedding needs a (batch, h, w, D) grid or `grid_size`.")
            grid = self.grid_size
        dim = int(tokens.shape[-1])
        if isinstance(grid[0], int) and isinstance(grid[1], int):
            table = ops.convert_to_tensor(posemb_sincos_2d(grid[0], grid[1], dim, self.temperature), dtype=tokens.dtype)
        else:
            table = posemb_sincos_2d_ops(grid[0], grid[1], dim, self.temperature, dtype=tokens.dtype)
        return tokens + table

    def compute_output_shape(self, input_shape):
        if len(input_shape) == 4:
            h, w = input_shape[1], input_shape[2]
            return (input_shape[0], None if h is None or w is None else h * w, input_shape[-1])
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"grid_size": self.grid_size, "temperature": self.temperature})
        return config
