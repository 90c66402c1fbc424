"""FlexiViT sizes and the paper's patch-size set, as explicit numbers.

Sizes are big_vision's ViT table (`keras_vision.models.vit.VIT_VARIANTS`); a FlexiViT
adds where its kernel and position embedding are stored and the resolution it runs at.
"""

from keras_vision.models.vit.vit_variants import VIT_VARIANTS

# The paper trains at 240 px, which every patch size below divides.
IMAGE_SIZE = 240
# Tokens per side sampled in training (big_vision `flexi.seqhw.v`) and the patch sizes
# they mean at 240 px.
SEQHW = (5, 6, 8, 10, 12, 15, 16, 20, 24, 30)
PATCH_SIZES = tuple(IMAGE_SIZE // s for s in SEQHW)  # (48, 40, 30, 24, 20, 16, 15, 12, 10, 8)


def _variant(size, base_patch_size):
    hidden_dim, num_layers, intermediate_dim, num_heads = VIT_VARIANTS[size]
    return dict(
        hidden_dim=hidden_dim,
        num_layers=num_layers,
        intermediate_dim=intermediate_dim,
        num_heads=num_heads,
        image_shape=(IMAGE_SIZE, IMAGE_SIZE, 3),
        patch_size=(16, 16),
        base_patch_size=(base_patch_size, base_patch_size),
        posemb_grid_size=(7, 7),
        pooling="tok",
        position_embedding="learn",
    )


# FlexiViTBackbone kwargs of the paper's models. The i1k models were distilled into a
# 16x16 kernel buffer (big_vision `i1k_deit3_distill.py`), the i21k model into 8x8
# (`i21k_sup.py`); a converted checkpoint keeps the buffer it was saved with.
FLEXIVIT_VARIANTS = {
    "flexivit_small": _variant("S", 16),
    "flexivit_base": _variant("B", 16),
    "flexivit_large": _variant("L", 16),
    "flexivit_base_i21k": _variant("B", 8),
}
