"""FlexiViT's patch embedding: one stored kernel, any patch size (PI-resized on the fly)."""

import keras
import numpy as np
from keras import ops

from keras_vision.api_export import keras_vision_export
from keras_vision.layers.patch_embedding import PatchEmbedding
from keras_vision.layers.pi_resize import resample_patch_kernel_ops
from keras_vision.sizes import to_pair


@keras_vision_export("keras_vision.layers.FlexiPatchEmbedding")
class FlexiPatchEmbedding(PatchEmbedding):
    """A `PatchEmbedding` whose kernel is stored at `base_patch_size` and PI-resized per call.

    `patch_size` means what it means for `PatchEmbedding` (and everywhere in
    keras_vision): the size of the patches images are cut into, here the default of
    a call. The one `kernel` (base_h, base_w, channels, hidden_dim) is stored at
    `base_patch_size`; a call at another patch size resizes it with the pseudo-inverse
    of the bilinear resize (see `keras_vision.layers.resample_patch_kernel_ops`) and
    embeds non-overlapping patches of that size (a strided "VALID" convolution: a
    remainder at the bottom/right is dropped, as in big_vision). Always resizing from
    the stored kernel avoids the loss of chained resizes.

    Args:
        hidden_dim: int, embedding size D.
        patch_size: int or (height, width), the patch size of a call without `patch_size=`.
        base_patch_size: int or (height, width), the size the kernel is stored at
            (big_vision FlexiViT's `patch_size` parameter). Default: `patch_size`.
        use_bias: bool (big_vision: True).
        kernel_initializer: defaults to normal(stddev=1/sqrt(hidden_dim)) (big_vision).
        bias_initializer: defaults to zeros.
        **kwargs: `keras.layers.Layer` arguments (name, dtype, ...).

    Call args:
        images: (batch, height, width, channels).
        patch_size: optional int or (height, width); default the layer's `patch_size`.
            Must be a Python value: each patch size is its own (compiled) graph.

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
        base_patch_size=None,
        use_bias=True,
        kernel_initializer=None,
        bias_initializer="zeros",
        **kwargs,
    ):
        if kernel_initializer is None:
            kernel_initializer = keras.initializers.RandomNormal(stddev=float(1.0 / np.sqrt(int(hidden_dim))))
        super().__init__(
            hidden_dim,
            patch_size,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            bias_initializer=bias_initializer,
            **kwargs,
        )
        self.base_patch_size = (
            self.patch_size if base_patch_size is None else to_pair(base_patch_size, "base_patch_size")
        )

    @property
    def kernel_size(self):
        """(height, width) of the stored kernel: `base_patch_size`."""
        return self.base_patch_size

    def resized_kernel(self, patch_size=None):
        """The kernel PI-resized to `patch_size` (default the layer's; the stored kernel when equal)."""
        patch_size = self.patch_size if patch_size is None else to_pair(patch_size, "patch_size")
        return resample_patch_kernel_ops(ops.convert_to_tensor(self.kernel), patch_size)

    def call(self, images, patch_size=None):
        patch_size = self.patch_size if patch_size is None else to_pair(patch_size, "patch_size")
        kernel = ops.cast(self.resized_kernel(patch_size), self.compute_dtype)
        bias = None if self.bias is None else ops.cast(self.bias, self.compute_dtype)
        return self._patchify(images, kernel, bias, patch_size)

    def compute_output_spec(self, images, patch_size=None):
        # Explicit, so `patch_size` stays a static Python value: JAX shape inference
        # would otherwise trace a (h, w) tuple argument.
        ph, pw = self.patch_size if patch_size is None else to_pair(patch_size, "patch_size")
        b, h, w = images.shape[0], images.shape[1], images.shape[2]
        shape = (b, None if h is None else h // ph, None if w is None else w // pw, self.hidden_dim)
        return keras.KerasTensor(shape, dtype=self.compute_dtype)

    def get_config(self):
        config = super().get_config()
        config["base_patch_size"] = self.base_patch_size
        return config
