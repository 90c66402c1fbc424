"""FlexiViT backbone (big_vision `models/proj/flexi/vit.py`): one set of weights, any patch size."""

from keras_vision.api_export import keras_vision_export
from keras_vision.layers import FlexiPatchEmbedding
from keras_vision.layers._utils import to_pair
from keras_vision.models.flexivit.flexi_position_embedding import FlexiPositionEmbedding
from keras_vision.models.flexivit.flexivit_variants import FLEXIVIT_VARIANTS
from keras_vision.models.vit.vit_backbone import ViTBackbone
from keras_vision.models.vit.vit_variants import decode_variant

# Layers a weight-sharing copy reuses as objects (attribute names on the backbone).
_SHARED = ("patch_embedding_layer", "position_embedding", "class_token", "embedding_dropout",
           "encoder_blocks", "encoder_norm", "map_head", "pre_logits")
# Config keys a weight-sharing copy may change.
_PER_COPY = ("patch_size", "image_shape", "name", "trainable", "dtype")


class _PatchEmbeddingAt:
    """The shared `FlexiPatchEmbedding`, called at one patch size.

    `ViTBackbone._forward` calls `self.patch_embedding(images)`; this binds the
    backbone's patch size into that call. Attribute access (kernel, bias, ...) goes to
    the layer, so `backbone.patch_embedding` reads like a ViT's.
    """

    def __init__(self, layer, patch_size):
        self._layer = layer
        self._patch_size = patch_size

    def __call__(self, images, **kwargs):
        return self._layer(images, patch_size=self._patch_size, **kwargs)

    def __getattr__(self, name):
        return getattr(self._layer, name)


@keras_vision_export("keras_vision.models.FlexiViTBackbone")
class FlexiViTBackbone(ViTBackbone):
    """A ViT whose patch size is a run-time choice: one set of weights for all patch sizes.

    The patch-embedding kernel is stored at `base_patch_size` and PI-resized (pseudo-
    inverse of the bilinear resize) to `patch_size` inside the graph; the learned
    position embedding is stored on a `posemb_grid_size` grid (7x7 in the paper) and
    resized with half-pixel bilinear interpolation (antialiased when shrinking, like
    big_vision's `jax.image.resize(..., "linear")`) to the token grid
    `image_shape // patch_size`. Everything else is the ViT (`ViTBackbone`: same
    layers, outputs, variable names and `get_intermediates`), so evaluators, export
    and presets treat it as one.

    A model runs at one patch size (static shapes, one compiled graph);
    `with_patch_size(p)` returns another backbone that SHARES these weights (the same
    layer objects and variables) at patch size `p`. Training with a random patch size
    per step is `keras_vision.trainers.FlexiTrainer`.

    Args:
        image_shape: (height, width, channels), static. big_vision FlexiViT uses 240 px
            (divisible by 48, 40, 30, 24, 20, 16, 15, 12, 10, 8).
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

    _RESOLUTION_HINT = "use `with_patch_size(p, image_shape=...)` for other resolutions (weights are shared)."

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
        _share_with=None,
        **kwargs,
    ):
        # === Config === (FlexiViT's own; ViTBackbone stores the rest)
        patch_size = to_pair(patch_size, "patch_size")
        self.base_patch_size = patch_size if base_patch_size is None else to_pair(base_patch_size, "base_patch_size")
        self.posemb_grid_size = to_pair(posemb_grid_size, "posemb_grid_size")
        self.position_embedding_antialias = bool(position_embedding_antialias)

        # === Layers ===
        # A weight-sharing copy takes the very layer objects (in weight order), and
        # `_make_layers` then creates none; ViTBackbone builds the graph at `patch_size`.
        self._shares_layers = _share_with is not None
        if _share_with is not None:
            for attr in _SHARED:
                setattr(self, attr, getattr(_share_with, attr))
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
        if _share_with is not None:
            self._check_same_architecture(_share_with)

    def _make_layers(self, dtype):
        # A weight-sharing copy already holds its layers (set in __init__).
        if not self._shares_layers:
            super()._make_layers(dtype)

    def _make_embeddings(self, dtype):
        # The ViT's layers but for these two: a resizable kernel and position embedding.
        self.patch_embedding_layer = FlexiPatchEmbedding(
            self.hidden_dim, self.base_patch_size, name="embedding", dtype=dtype
        )
        self.position_embedding = FlexiPositionEmbedding(
            self.posemb_grid_size,
            posemb=self.position_embedding_type,
            antialias=self.position_embedding_antialias,
            name="pos_embedding",
            dtype=dtype,
        )

    @property
    def patch_embedding(self):
        """The shared `FlexiPatchEmbedding`, bound to this model's patch size when called."""
        return _PatchEmbeddingAt(self.patch_embedding_layer, self.patch_size)

    def _check_same_architecture(self, other):
        mine, theirs = self.get_config(), other.get_config()
        diff = sorted(k for k in mine if k not in _PER_COPY and mine[k] != theirs.get(k))
        if diff:
            raise ValueError(
                f"A weight-sharing FlexiViTBackbone may only change {_PER_COPY}; "
                f"got different {', '.join(f'{k}={mine[k]!r} (shared: {theirs.get(k)!r})' for k in diff)}."
            )

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
        return self.__class__(**config, dtype=self.dtype_policy, _share_with=self)

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
