"""FlexiViT's patch embedding: one kernel, any patch size (PI-resized on the fly)."""

import keras
import numpy as np
from keras import ops

from keras_vision.api_export import keras_vision_export
from keras_vision.layers._utils import to_pair
from keras_vision.layers.pi_resize import resample_patch_kernel_ops


@keras_vision_export("keras_vision.layers.FlexiPatchEmbedding")
class FlexiPatchEmbedding(keras.layers.Layer):
    """Patchifies images with a kernel stored at `patch_size`, PI-resized per call.

    The layer owns one `kernel` (patch_h, patch_w, channels, hidden_dim) and one `bias`.
    Calling it with another `patch_size=` resizes the kernel with the pseudo-inverse of
    the bilinear resize (see `keras_vision.layers.resample_patch_kernel_ops`) and
    embeds non-overlapping patches of that size (a strided "VALID" convolution, so a
    remainder at the bottom/right is dropped, as in big_vision). Always resizing from
    the stored kernel avoids the loss of chained resizes.

    Args:
        hidden_dim: int, embedding size D.
        patch_size: int or (height, width), the size the kernel is stored at.
        kernel_initializer: defaults to normal(stddev=1/sqrt(hidden_dim)) (big_vision).
        bias_initializer: defaults to zeros.
        **kwargs: `keras.layers.Layer` arguments (name, dtype, ...).

    Call args:
        images: (batch, height, width, channels) with static height/width.
        patch_size: optional int or (height, width); default the stored size. Must be a
            Python value: each patch size is its own (compiled) graph.

    Returns:
        (batch, height // patch_h, width // patch_w, hidden_dim) token grid.

    Example:
        >>> layer = FlexiPatchEmbedding(hidden_dim=64, patch_size=16)
        >>> layer(np.zeros((2, 48, 48, 3)), patch_size=8).shape
        (2, 6, 6, 64)

    Paper: "FlexiViT: One Model for All Patch Sizes" (https://arxiv.org/abs/2212.08013).
    """

    def __init__(
        self,
        hidden_dim,
        patch_size,
        kernel_initializer=None,
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.hidden_dim = int(hidden_dim)
        self.patch_size = to_pair(patch_size, "patch_size")
        if kernel_initializer is None:
            kernel_initializer = keras.initializers.RandomNormal(stddev=float(1.0 / np.sqrt(self.hidden_dim)))
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(f"FlexiPatchEmbedding needs a known channel count, got input shape {input_shape}.")
        self.kernel = self.add_weight(
            name="kernel",
            shape=(*self.patch_size, int(channels), self.hidden_dim),
            initializer=self.kernel_initializer,
        )
        self.bias = self.add_weight(name="bias", shape=(self.hidden_dim,), initializer=self.bias_initializer)

    def resized_kernel(self, patch_size=None):
        """The kernel PI-resized to `patch_size` (the stored kernel when None or equal)."""
        patch_size = self.patch_size if patch_size is None else to_pair(patch_size, "patch_size")
        return resample_patch_kernel_ops(ops.convert_to_tensor(self.kernel), patch_size)

    def call(self, images, patch_size=None):
        patch_size = self.patch_size if patch_size is None else to_pair(patch_size, "patch_size")
        kernel = ops.cast(self.resized_kernel(patch_size), self.compute_dtype)
        x = ops.conv(images, kernel, strides=patch_size, padding="valid", data_format="channels_last")
        return x + ops.cast(self.bias, self.compute_dtype)

    def compute_output_spec(self, images, patch_size=None):
        # Explicit, so `patch_size` stays a static Python value: JAX shape inference
        # would otherwise trace a (h, w) tuple argument.
        ph, pw = self.patch_size if patch_size is None else to_pair(patch_size, "patch_size")
        b, h, w = images.shape[0], images.shape[1], images.shape[2]
        shape = (b, None if h is None else h // ph, None if w is None else w // pw, self.hidden_dim)
        return keras.KerasTensor(shape, dtype=self.compute_dtype)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "hidden_dim": self.hidden_dim,
                "patch_size": self.patch_size,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            }
        )
        return config
