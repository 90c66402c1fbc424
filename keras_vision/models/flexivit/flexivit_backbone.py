"""FlexiViT backbone (big_vision `models/proj/flexi/vit.py`): one set of weights, any patch size."""

import keras

from keras_vision.api_export import keras_vision_export
from keras_vision.layers import ClassToken
from keras_vision.layers import FlexiPatchEmbedding
from keras_vision.layers import LayerNorm
from keras_vision.layers import MAPHead
from keras_vision.layers import TransformerEncoderBlock
from keras_vision.layers._utils import to_pair
from keras_vision.layers.transformer_encoder_block import BLOCK_TYPES
from keras_vision.models.flexivit.flexi_position_embedding import FlexiPositionEmbedding
from keras_vision.models.flexivit.flexivit_variants import FLEXIVIT_VARIANTS
from keras_vision.models.vit.vit_backbone import POOLINGS
from keras_vision.models.vit.vit_backbone import POSITION_EMBEDDINGS
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
        image_shape = tuple(image_shape)
        if len(image_shape) != 3 or any(d is None for d in image_shape):
            raise ValueError(
                f"FlexiViTBackbone needs a static image_shape (height, width, channels), got {image_shape}; "
                "use `with_patch_size(p, image_shape=...)` for other resolutions (weights are shared)."
            )
        image_shape = tuple(int(d) for d in image_shape)
        patch_size = to_pair(patch_size, "patch_size")
        base_patch_size = patch_size if base_patch_size is None else to_pair(base_patch_size, "base_patch_size")
        posemb_grid_size = to_pair(posemb_grid_size, "posemb_grid_size")
        if pooling not in POOLINGS:
            raise ValueError(f"Unknown pooling {pooling!r}; expected one of {POOLINGS}.")
        if position_embedding not in POSITION_EMBEDDINGS:
            raise ValueError(
                f"Unknown position_embedding {position_embedding!r}; expected one of {POSITION_EMBEDDINGS}."
            )
        if block_type not in BLOCK_TYPES:
            raise ValueError(f"Unknown block_type {block_type!r}; expected one of {BLOCK_TYPES}.")
        grid = (image_shape[0] // patch_size[0], image_shape[1] // patch_size[1])
        if min(grid) < 1:
            raise ValueError(f"image_shape {image_shape} is smaller than patch_size {patch_size}.")
        intermediate_dim = None if intermediate_dim is None else int(intermediate_dim)
        representation_size = None if representation_size is None else int(representation_size)

        # === Layers ===
        if _share_with is not None:
            for attr in _SHARED:
                setattr(self, attr, getattr(_share_with, attr))
        else:
            self.patch_embedding_layer = FlexiPatchEmbedding(
                hidden_dim, base_patch_size, name="embedding", dtype=dtype
            )
            self.position_embedding = FlexiPositionEmbedding(
                posemb_grid_size,
                posemb=position_embedding,
                antialias=position_embedding_antialias,
                name="pos_embedding",
                dtype=dtype,
            )
            self.class_token = ClassToken(name="cls", dtype=dtype) if pooling == "tok" else None
            self.embedding_dropout = keras.layers.Dropout(dropout_rate, name="dropout", dtype=dtype)
            self.encoder_blocks = [
                TransformerEncoderBlock(
                    num_heads,
                    intermediate_dim=intermediate_dim,
                    dropout_rate=dropout_rate,
                    block_type=block_type,
                    qk_norm=qk_norm,
                    use_bias=use_bias,
                    layer_norm_epsilon=layer_norm_epsilon,
                    stochastic_depth_rate=stochastic_depth_rate * i / max(1, num_layers - 1),
                    name=f"encoderblock_{i}",
                    dtype=dtype,
                )
                for i in range(num_layers)
            ]
            self.encoder_norm = LayerNorm(layer_norm_epsilon, use_bias=use_bias, name="encoder_norm", dtype=dtype)
            self.map_head = None
            if pooling == "map":
                self.map_head = MAPHead(
                    num_heads,
                    intermediate_dim=intermediate_dim,
                    use_bias=use_bias,
                    qk_norm=qk_norm,
                    layer_norm_epsilon=layer_norm_epsilon,
                    name="MAPHead_0",
                    dtype=dtype,
                )
            self.pre_logits = None
            if representation_size is not None:
                self.pre_logits = keras.layers.Dense(
                    representation_size, activation="tanh", name="pre_logits", dtype=dtype
                )

        # === Functional Model ===
        # ViTBackbone._forward reads these; the graph is ViT's, at this patch size.
        self.pooling = pooling
        self.grid_size = grid
        self._active_patch_size = patch_size
        images = keras.Input(shape=image_shape, name="images")
        out = self._forward(images)
        outputs = {k: out[k] for k in ("pre_logits", "pre_logits_2d", "encoded")}
        kwargs.setdefault("name", "flexivit_backbone")
        # Skip ViTBackbone.__init__ (it would build its own fixed-size layers).
        super(ViTBackbone, self).__init__(inputs=images, outputs=outputs, dtype=dtype, **kwargs)

        # === Config ===
        self.image_shape = image_shape
        self.patch_size = patch_size
        self.base_patch_size = base_patch_size
        self.posemb_grid_size = posemb_grid_size
        self.position_embedding_antialias = bool(position_embedding_antialias)
        self.hidden_dim = int(hidden_dim)
        self.num_layers = int(num_layers)
        self.num_heads = int(num_heads)
        self.intermediate_dim = intermediate_dim
        self.pooling = pooling
        self.position_embedding_type = position_embedding
        self.representation_size = representation_size
        self.dropout_rate = float(dropout_rate)
        self.block_type = block_type
        self.qk_norm = bool(qk_norm)
        self.use_bias = bool(use_bias)
        self.layer_norm_epsilon = float(layer_norm_epsilon)
        self.stochastic_depth_rate = float(stochastic_depth_rate)
        if _share_with is not None:
            self._check_same_architecture(_share_with)

    @property
    def patch_embedding(self):
        """The shared `FlexiPatchEmbedding`, bound to this model's patch size when called."""
        return _PatchEmbeddingAt(self.patch_embedding_layer, self._active_patch_size)

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
