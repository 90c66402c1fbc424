"""T5's layer norm: `x * rsqrt(mean(x^2) + eps) * scale` (no mean subtraction, no bias, no `1 +`)."""

from keras_vision.api_export import keras_vision_export
from keras_vision.models.pali.gemma_rms_norm import GemmaRMSNorm


@keras_vision_export("keras_vision.models.pali.T5RMSNorm")
class T5RMSNorm(GemmaRMSNorm):
    """Root-mean-square normalization over the last axis with a learned gain, as T5 / mT5.

    `x * rsqrt(mean(x^2) + epsilon) * scale`, `scale` initialised at ones. Unlike
    `GemmaRMSNorm` there is no `(1 + scale)`: T5 checkpoints store the gain itself. The
    statistics are computed in float32 (as Hugging Face's `T5LayerNorm`) and the result
    is cast to the compute dtype. `keras_hub.layers.RMSNormalization` computes the same
    function but takes no `name`/`dtype` and has no `get_config`, so it cannot sit in a
    serialisable model with stable variable paths; hence this layer.

    Args:
        epsilon: float, added to the mean square (1e-6 in T5 / mT5).
        **kwargs: `keras.layers.Layer` arguments (name, dtype, ...).

    Example:
        >>> T5RMSNorm(name="final_norm")(np.ones((2, 5, 8))).shape
        (2, 5, 8)

    Paper: "Root Mean Square Layer Normalization", Zhang & Sennrich, 2019
    (https://arxiv.org/abs/1910.07467); T5 (https://arxiv.org/abs/1910.10683).
    """

    scale_offset = 0.0
    scale_initializer = "ones"
