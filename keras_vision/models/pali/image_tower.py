"""The image tower both PaLI-family backbones share: a ViT (one token per patch) and a Dense head to the LM width."""

import keras

from keras_vision.models.vit.vit_backbone import ViTBackbone

# Scopes of the two towers' variables, as big_vision's `img/...` and `llm/...` names, so
# big_vision regexes (freezing "img/.*", per-tower schedules) apply to variable paths.
IMAGE_SCOPE = "img"
LLM_SCOPE = "llm"


def check_image_shape(image_shape, what):
    """`image_shape` as a tuple, or a ValueError naming it unless it is a static (height, width, channels)."""
    image_shape = tuple(image_shape)
    if len(image_shape) != 3 or None in image_shape:
        raise ValueError(f"{what} needs a static image_shape (height, width, channels), got {image_shape}.")
    return image_shape


def build_image_tower(width, image_shape, patch_size, hidden_dim, num_layers, num_heads, intermediate_dim,
                      position_embedding, dropout_rate, dtype):
    """(ViTBackbone with pooling "none", Dense head to `width`) under the "img" scope (big_vision paths).

    The head is zero-initialised, as big_vision's `head_zeroinit=True`: a fresh head
    leaves a pre-trained language model undisturbed at the first step.
    """
    with keras.name_scope(IMAGE_SCOPE):
        vit = ViTBackbone(
            image_shape=image_shape,
            patch_size=patch_size,
            hidden_dim=hidden_dim,
            num_layers=num_layers,
            num_heads=num_heads,
            intermediate_dim=intermediate_dim,
            pooling="none",
            position_embedding=position_embedding,
            dropout_rate=dropout_rate,
            dtype=dtype,
            name="vit",
        )
        head = keras.layers.Dense(width, kernel_initializer="zeros", name="head", dtype=dtype)
    return vit, head


def encode_images(vit, head, images, training=None):
    """Patch tokens of `images` projected to the LM width (big_vision "img/zimg")."""
    with keras.name_scope(IMAGE_SCOPE):
        return head(vit(images, training=training)["pre_logits"])
