"""Patch embedding: a strided "VALID" convolution that turns images into a token grid."""

import keras
from keras import ops

from keras_vision.api_export import keras_vision_export
from keras_vision.sizes import to_pair


@keras_vision_export("keras_vision.layers.PatchEmbedding")
class PatchEmbedding(keras.layers.Layer):
    """Embeds non-overlapping patches with a convolution of stride = kernel = `patch_size`.

    Weights `kernel` (patch_h, patch_w, channels, hidden_dim) (HWIO, as flax `nn.Conv`)
    and `bias` (hidden_dim,). Padding is "VALID": a remainder at the bottom/right of
    an image that is not a multiple of the patch size is dropped, as in big_vision.

    Args:
        hidden_dim: int, embedding size D.
        patch_size: int or (height, width).
        use_bias: bool.
        kernel_initializer: default "lecun_normal" (flax's Conv default).
        bias_initializer: default "zeros".
        **kwargs: `keras.layers.Layer` arguments (name, dtype, ...).

    Call args:
        images: (batch, height, width, channels).

    Returns:
        The token grid (batch, height // patch_h, width // patch_w, hidden_dim).

    Example:
        >>> PatchEmbedding(hidden_dim=64, patch_size=8)(np.zeros((2, 32, 32, 3))).shape
        (2, 4, 4, 64)

    Paper: "An Image is Worth 16x16 Words", Dosovitskiy et al., 2020
    (https://arxiv.org/abs/2010.11929).
    """

    def __init__(
        self,
        hidden_dim,
        patch_size,
        use_bias=True,
        kernel_initializer="lecun_normal",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.hidden_dim = int(hidden_dim)
        self.patch_size = to_pair(patch_size, "patch_size")
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    @property
    def kernel_size(self):
        """(height, width) of the stored kernel: `patch_size` here (FlexiViT stores its own)."""
        return self.patch_size

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(f"{type(self).__name__} needs a known channel count, got input shape {input_shape}.")
        self.kernel = self.add_weight(
            name="kernel",
            shape=(*self.kernel_size, int(channels), self.hidden_dim),
            initializer=self.kernel_initializer,
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(self.hidden_dim,), initializer=self.bias_initializer)

    def call(self, images):
        return self._patchify(images, self.kernel, self.bias, self.patch_size)

    def _patchify(self, images, kernel, bias, patch_size):
        """Non-overlapping `patch_size` patches of `images` times `kernel` (+ `bias` unless None)."""
        x = ops.conv(images, kernel, strides=patch_size, padding="valid", data_format="channels_last")
        if bias is not None:
            x = x + bias
        return x

    def compute_output_shape(self, input_shape):
        batch, height, width = input_shape[0], input_shape[1], input_shape[2]
        grid_h = None if height is None else height // self.patch_size[0]
        grid_w = None if width is None else width // self.patch_size[1]
        return (batch, grid_h, grid_w, self.hidden_dim)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "hidden_dim": self.hidden_dim,
                "patch_size": self.patch_size,
                "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            }
        )
        return config
