"""FlexiViT backbone (big_vision `models/proj/flexi/vit.py`): one set of weights, any patch size."""

from keras_vision.api_export import keras_vision_export
from keras_vision.layers import FlexiPatchEmbedding
from keras_vision.sizes import to_pair
from keras_vision.models.flexivit.flexi_position_embedding import FlexiPositionEmbedding
from keras_vision.models.flexivit.flexivit_variants import FLEXIVIT_VARIANTS
from keras_vision.models.vit.vit_backbone import ViTBackbone
from keras_vision.models.vit.vit_variants import decode_variant

# Layers a weight-sharing copy reuses as objects (attribute names on the backbone), in weight order.
_SHARED = ("patch_embedding", "position_embedding", "class_token", "embedding_dropout",
           "encoder_blocks", "encoder_norm", "map_head", "pre_logits")


@keras_vision_export("keras_vision.models.FlexiViTBackbone")
class FlexiViTBackbone(ViTBackbone):
    """A ViT whose patch size is a run-time choice: one set of weights for all patch sizes.

    `patch_size` is, as for every keras_vision model, the size images are cut into
    (the size this model runs at); `base_patch_size` is the size the kernel is stored
    at (what big_vision's FlexiViT calls `patch_size`; the "proj.flexi.vit" builder
    translates). The kernel is PI-resized (pseudo-inverse of the bilinear resize) to
    `patch_size` inside the graph; the learned position embedding is stored on a
    `posemb_grid_size` grid (7x7 in the paper) and resized with half-pixel bilinear
    interpolation (antialiased when shrinking, like big_vision's
    `jax.image.resize(..., "linear")`) to the token grid `image_shape // patch_size`.
    With `image_shape=(None, None, C)` the model takes images of any size and resizes
    the position embedding to each call's grid, as big_vision does. Everything else is
    the ViT (`ViTBackbone`: same layers, outputs, variable names and
    `get_intermediates`), so evaluators, export and presets treat it as one.

    A model runs at one patch size (static shapes, one compiled graph);
    `with_patch_size(p)` returns another backbone that SHARES these weights (the same
    layer objects and variables) at patch size `p`. Training with a random patch size
    per step is `keras_vision.trainers.FlexiTrainer`.

    Args:
        image_shape: (height, width, channels); height and width may be None (any
            size). big_vision FlexiViT trains at 240 px (divisible by 48, 40, 30, 24,
            20, 16, 15, 12, 10, 8).
        patch_size: int or (h, w), the patch size this model runs at.
        base_patch_size: int or (h, w), the size the kernel is stored at (big_vision's
            `patch_size` param). Default: `patch_size`.
        posemb_grid_size: int or (h, w), the stored position-embedding grid (big_vision
            `posemb_size`, default 7).
        position_embedding_antialias: bool, antialias the position-embedding resize when
            the token grid is smaller than the stored grid (big_vision: True).
        hidden_dim, num_layers, num_heads, intermediate_dim, pooling,
        position_embedding, representation_size, dropout_rate, block_type, qk_norm,
        use_bias, layer_norm_epsilon, stochastic_depth_rate, dtype: as `ViTBackbone`.
            big_vision FlexiViT uses pooling "tok" / "gap" / "map", no dropout, no
            representation layer.

    Example:
        >>> backbone = FlexiViTBackbone.from_variant("S", image_shape=(240, 240, 3),
        ...     patch_size=16, base_patch_size=32, pooling="tok")
        >>> fast = backbone.with_patch_size(30)    # 8x8 tokens, same weights
        >>> fast(np.zeros((1, 240, 240, 3)))["encoded"].shape
        (1, 65, 384)

    Paper: "FlexiViT: One Model for All Patch Sizes", Beyer et al., CVPR 2023
    (https://arxiv.org/abs/2212.08013).
    """

    def __init__(
        self,
        image_shape=(240, 240, 3),
        patch_size=16,
        base_patch_size=None,
        posemb_grid_size=7,
        position_embedding_antialias=True,
        hidden_dim=768,
        num_layers=12,
        num_heads=12,
        intermediate_dim=None,
        pooling="tok",
        position_embedding="learn",
        representation_size=None,
        dropout_rate=0.0,
        block_type="sequential",
        qk_norm=False,
        use_bias=True,
        layer_norm_epsilon=1e-6,
        stochastic_depth_rate=0.0,
        dtype=None,
        **kwargs,
    ):
        # === Config === (FlexiViT's own; ViTBackbone stores the rest)
        patch_size = to_pair(patch_size, "patch_size")
        self.base_patch_size = patch_size if base_patch_size is None else to_pair(base_patch_size, "base_patch_size")
        self.posemb_grid_size = to_pair(posemb_grid_size, "posemb_grid_size")
        self.position_embedding_antialias = bool(position_embedding_antialias)

        kwargs.setdefault("name", "flexivit_backbone")
        super().__init__(
            image_shape=image_shape,
            patch_size=patch_size,
            hidden_dim=hidden_dim,
            num_layers=num_layers,
            num_heads=num_heads,
            intermediate_dim=intermediate_dim,
            pooling=pooling,
            position_embedding=position_embedding,
            representation_size=representation_size,
            dropout_rate=dropout_rate,
            block_type=block_type,
            qk_norm=qk_norm,
            use_bias=use_bias,
            layer_norm_epsilon=layer_norm_epsilon,
            stochastic_depth_rate=stochastic_depth_rate,
            dtype=dtype,
            **kwargs,
        )

    @classmethod
    def _any_resolution(cls, position_embedding):
        # The stored posemb grid is resized to any token grid.
        return True

    def _make_layers(self, dtype):
        # `with_patch_size` builds its copy with `_layers_of` set: the copy takes those
        # very layer objects (hence variables, in the same order) instead of new ones.
        source = self.__dict__.pop("_layers_of", None)
        if source is None:
            super()._make_layers(dtype)
            return
        for attr in _SHARED:
            setattr(self, attr, getattr(source, attr))

    def _make_embeddings(self, dtype):
        # The ViT's layers but for these two: a resizable kernel and position embedding.
        self.patch_embedding = FlexiPatchEmbedding(
            self.hidden_dim, self.patch_size, base_patch_size=self.base_patch_size, name="embedding", dtype=dtype
        )
        self.position_embedding = FlexiPositionEmbedding(
            self.posemb_grid_size,
            posemb=self.position_embedding_type,
            antialias=self.position_embedding_antialias,
            name="pos_embedding",
            dtype=dtype,
        )

    def _embed_patches(self, images):
        # The embedding layer may be shared with copies at other patch sizes: say ours.
        return self.patch_embedding(images, patch_size=self.patch_size)

    def with_patch_size(self, patch_size, image_shape=None, name=None):
        """A backbone at another patch size (and optionally resolution) sharing these weights.

        The returned model uses the same layer objects, hence the same variables: training
        either trains both. Each instance is its own static graph (compiled once).

        Args:
            patch_size: int or (h, w).
            image_shape: optional (h, w, c); default this model's.
            name: optional model name; default "<name>_p<h>x<w>".
        """
        patch_size = to_pair(patch_size, "patch_size")
        config = self.get_config()
        config.pop("dtype", None)
        config["patch_size"] = patch_size
        if image_shape is not None:
            config["image_shape"] = tuple(image_shape)
        config["name"] = name or f"{self.name}_p{patch_size[0]}x{patch_size[1]}"
        # A second constructor: the new instance takes this one's layers (`_make_layers`).
        # Set with object.__setattr__ so Keras never tracks this model as a sub-layer.
        copy = self.__class__.__new__(self.__class__)
        object.__setattr__(copy, "_layers_of", self)
        copy.__init__(**config, dtype=self.dtype_policy)
        return copy

    @classmethod
    def from_variant(cls, variant, **overrides):
        """From a paper model name ("flexivit_base", see `FLEXIVIT_VARIANTS`) or a
        big_vision size ("S", "B", ...; "B/32" also sets `base_patch_size`).

        Example:
            >>> FlexiViTBackbone.from_variant("flexivit_small")   # 240 px, patch 16, 7x7 posemb
            >>> FlexiViTBackbone.from_variant("B/32", patch_size=16, image_shape=(240, 240, 3))
        """
        if variant in FLEXIVIT_VARIANTS:
            return cls(**{**FLEXIVIT_VARIANTS[variant], **overrides})
        decoded = decode_variant(variant)
        if "patch_size" in decoded:
            base = decoded.pop("patch_size")
            decoded["base_patch_size"] = base
            decoded.setdefault("patch_size", base)
        return cls(**{**decoded, **overrides})

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "base_patch_size": self.base_patch_size,
                "posemb_grid_size": self.posemb_grid_size,
                "position_embedding_antialias": self.position_embedding_antialias,
            }
        )
        return config
