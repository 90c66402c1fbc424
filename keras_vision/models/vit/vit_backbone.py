"""ViT backbone (big_vision `models/vit.py`) as a functional KerasHub Backbone."""

import keras
from keras import ops
from keras_hub.models import Backbone

from keras_vision.api_export import keras_vision_export
from keras_vision.layers import ClassToken
from keras_vision.layers import MAPHead
from keras_vision.layers import PatchEmbedding
from keras_vision.layers import PositionEmbedding
from keras_vision.layers import SinCos2DPositionEmbedding
from keras_vision.layers import apply_transformer_encoder
from keras_vision.layers import make_transformer_encoder
from keras_vision.sizes import to_pair
from keras_vision.layers.transformer_encoder_block import BLOCK_TYPES
from keras_vision.models._utils import select_intermediates
from keras_vision.models.vit.vit_variants import decode_variant

POOLINGS = ("gap", "tok", "map", "0", "none")
POSITION_EMBEDDINGS = ("learn", "sincos2d")
# Scope of the encoder blocks and final norm: variable paths read like big_vision's
# parameter names ("Transformer/encoderblock_0/MlpBlock_0/Dense_0/kernel").
ENCODER_SCOPE = "Transformer"


class _TokenGrid(keras.layers.Layer):
    """Reshapes tokens (B, h*w, F) to the (B, h, w, F) grid of `like` (B, h, w, D).

    Only for models whose token grid is known at run time alone (image_shape
    (None, None, C)); a fixed-size model reshapes with its static grid.
    """

    def call(self, tokens, like):
        shape = ops.shape(like)
        return ops.reshape(tokens, (-1, shape[1], shape[2], tokens.shape[-1]))

    def compute_output_shape(self, tokens_shape, like_shape):
        return (tokens_shape[0], like_shape[1], like_shape[2], tokens_shape[-1])


@keras_vision_export("keras_vision.models.ViTBackbone")
class ViTBackbone(Backbone):
    """Vision Transformer backbone with big_vision's architecture, numerics and parameter names.

    Image (B, H, W, C) -> patch embedding -> + position embedding -> [cls] (pooling
    "tok") -> dropout -> `num_layers` pre-LN encoder blocks -> LayerNorm -> pooling
    -> optional tanh `pre_logits` Dense. Returns a dict:
    - "pre_logits": pooled features (B, F) (per token (B, N, F) for pooling "none");
    - "pre_logits_2d": the token grid (B, h, w, F) (the [cls] token dropped for "tok");
    - "encoded": encoder output tokens (B, N, D) (with [cls] for "tok").

    Variable paths mirror big_vision's checkpoint names: `embedding/kernel`,
    `pos_embedding/embeddings`, `cls/cls`, `Transformer/encoderblock_{i}/...`,
    `Transformer/encoder_norm/scale`, `MAPHead_0/probe`, `pre_logits/kernel`.
    Layers (for `get_layer`): "embedding" (output: stem grid), "pos_embedding"
    (with_posemb), "encoderblock_{i}", "encoder_norm" (encoded), "MAPHead_0",
    "pre_logits". `get_intermediates(images)` returns every big_vision intermediate.

    Args:
        image_shape: (height, width, channels); the token grid is
            (height // patch_h, width // patch_w). With position_embedding "sincos2d"
            height and width may be None: the model then takes images of any size
            (the table is computed for each call's grid, as big_vision does); a learned
            position embedding needs them static.
        patch_size: int or (height, width).
        hidden_dim: int, D (big_vision `width`).
        num_layers: int (`depth`).
        num_heads: int.
        intermediate_dim: optional int, MLP size (`mlp_dim`); default 4 * D.
        pooling: "gap" (mean of tokens), "tok" ([cls] token), "map" (MAPHead),
            "0" (token 0, kept in the grid) or "none" (no pooling, per-token features).
        position_embedding: "learn" or "sincos2d".
        representation_size: optional int; adds Dense(representation_size, "tanh")
            named "pre_logits" (big_vision `rep_size`). None: no such layer.
        dropout_rate: float, after the position embedding, attention and MLP, and
            inside the MLP (big_vision `dropout`).
        block_type: "sequential" (ViT) or "parallel" (ViT-22B).
        qk_norm: bool, LayerNorm on queries and keys (ViT-22B).
        use_bias: bool; False drops biases of q/k/v projections and LayerNorms (ViT-22B).
        layer_norm_epsilon: float, default 1e-6.
        stochastic_depth_rate: float, drop-path rate of the last block (linear in depth
            from 0); an extension, big_vision has none.
        dtype: dtype policy, e.g. "float32" or "mixed_bfloat16".

    Example:
        >>> backbone = ViTBackbone.from_variant("S/16", image_shape=(224, 224, 3), pooling="map")
        >>> backbone(np.zeros((1, 224, 224, 3)))["pre_logits"].shape
        (1, 384)

    Paper: "An Image is Worth 16x16 Words", Dosovitskiy et al., 2020
    (https://arxiv.org/abs/2010.11929); "How to train your ViT?" (https://arxiv.org/abs/2106.10270).
    """

    # The end of the "needs a static image_shape" error: how to get other resolutions.
    _RESOLUTION_HINT = (
        "build one model per resolution (see `with_image_shape`), or use position_embedding='sincos2d' "
        "for image_shape (None, None, channels)."
    )

    def __init__(
        self,
        image_shape=(224, 224, 3),
        patch_size=16,
        hidden_dim=768,
        num_layers=12,
        num_heads=12,
        intermediate_dim=None,
        pooling="gap",
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
        image_shape = tuple(image_shape)
        patch_size = to_pair(patch_size, "patch_size")
        if pooling not in POOLINGS:
            raise ValueError(f"Unknown pooling {pooling!r}; expected one of {POOLINGS}.")
        if position_embedding not in POSITION_EMBEDDINGS:
            raise ValueError(
                f"Unknown position_embedding {position_embedding!r}; expected one of {POSITION_EMBEDDINGS}."
            )
        if len(image_shape) != 3 or image_shape[2] is None:
            raise ValueError(
                f"{type(self).__name__} needs image_shape (height, width, channels) with known channels, "
                f"got {image_shape}."
            )
        any_size = image_shape[0] is None or image_shape[1] is None
        if any_size and not self._any_resolution(position_embedding):
            raise ValueError(
                f"{type(self).__name__} with position_embedding={position_embedding!r} needs a static image_shape "
                f"(height, width, channels), got {image_shape}; {self._RESOLUTION_HINT}"
            )
        image_shape = tuple(None if d is None else int(d) for d in image_shape)
        if block_type not in BLOCK_TYPES:
            raise ValueError(f"Unknown block_type {block_type!r}; expected one of {BLOCK_TYPES}.")
        if representation_size is not None and (
            isinstance(representation_size, bool) or int(representation_size) < 1
        ):
            raise ValueError(
                f"representation_size must be None or a positive int, got {representation_size!r} "
                "(big_vision's rep_size=True means hidden_dim)."
            )
        grid = tuple(None if d is None else d // p for d, p in zip(image_shape[:2], patch_size))
        if any(g is not None and g < 1 for g in grid):
            raise ValueError(f"image_shape {image_shape} is smaller than patch_size {patch_size}.")
        # A (h, w) token grid, or None when it is known only at run time.
        grid = None if None in grid else grid

        # === Config ===
        # Set before the layers: `_make_layers` (and subclasses' hooks) read it.
        self.image_shape = image_shape
        self.patch_size = patch_size
        self.hidden_dim = int(hidden_dim)
        self.num_layers = int(num_layers)
        self.num_heads = int(num_heads)
        self.intermediate_dim = None if intermediate_dim is None else int(intermediate_dim)
        self.pooling = pooling
        self.position_embedding_type = position_embedding
        self.representation_size = None if representation_size is None else int(representation_size)
        self.dropout_rate = float(dropout_rate)
        self.block_type = block_type
        self.qk_norm = bool(qk_norm)
        self.use_bias = bool(use_bias)
        self.layer_norm_epsilon = float(layer_norm_epsilon)
        self.stochastic_depth_rate = float(stochastic_depth_rate)
        self.grid_size = grid

        # === Layers ===
        self._make_layers(dtype)
        # Weightless, only when the token grid is known at run time alone.
        self.token_grid = None if grid is not None else _TokenGrid(name="token_grid", dtype=dtype)

        # === Functional Model ===
        images = keras.Input(shape=image_shape, name="images")
        out = self._forward(images)
        outputs = {k: out[k] for k in ("pre_logits", "pre_logits_2d", "encoded")}
        super().__init__(inputs=images, outputs=outputs, dtype=dtype, **kwargs)

    @classmethod
    def _any_resolution(cls, position_embedding):
        """Whether the weights allow image_shape (None, None, C): sincos2d has no grid-sized weight."""
        return position_embedding == "sincos2d"

    def _embed_patches(self, images):
        """images -> token grid (the hook FlexiViT overrides to pass its patch size)."""
        return self.patch_embedding(images)

    def _make_embeddings(self, dtype):
        """Creates `patch_embedding` and `position_embedding` (the hook FlexiViT overrides)."""
        self.patch_embedding = PatchEmbedding(self.hidden_dim, self.patch_size, name="embedding", dtype=dtype)
        layer = PositionEmbedding if self.position_embedding_type == "learn" else SinCos2DPositionEmbedding
        self.position_embedding = layer(grid_size=self.grid_size, name="pos_embedding", dtype=dtype)

    def _make_layers(self, dtype):
        """Creates every layer from the config attributes, in weight order."""
        self._make_embeddings(dtype)
        self.class_token = ClassToken(name="cls", dtype=dtype) if self.pooling == "tok" else None
        self.embedding_dropout = keras.layers.Dropout(self.dropout_rate, name="dropout", dtype=dtype)
        self.encoder_blocks, self.encoder_norm = make_transformer_encoder(
            self.num_layers,
            self.num_heads,
            intermediate_dim=self.intermediate_dim,
            dropout_rate=self.dropout_rate,
            block_type=self.block_type,
            qk_norm=self.qk_norm,
            use_bias=self.use_bias,
            layer_norm_epsilon=self.layer_norm_epsilon,
            stochastic_depth_rate=self.stochastic_depth_rate,
            dtype=dtype,
        )
        self.map_head = None
        if self.pooling == "map":
            self.map_head = MAPHead(
                self.num_heads,
                intermediate_dim=self.intermediate_dim,
                use_bias=self.use_bias,
                qk_norm=self.qk_norm,
                layer_norm_epsilon=self.layer_norm_epsilon,
                name="MAPHead_0",
                dtype=dtype,
            )
        self.pre_logits = None
        if self.representation_size is not None:
            self.pre_logits = keras.layers.Dense(
                self.representation_size, activation="tanh", name="pre_logits", dtype=dtype
            )

    def _forward(self, images, training=None, intermediates=False):
        """The forward pass, shared by the functional graph and `get_intermediates`.

        Returns a dict with big_vision's output names (`intermediates=True` adds the
        per-block "encoder/blockNN/{sa,+sa,mlp,+mlp}" and "encoder/pre_ln").
        """
        out = {}
        x = out["stem"] = self._embed_patches(images)
        # The posemb is added before the [cls] token is prepended: cls gets none.
        x = out["with_posemb"] = self.position_embedding(x)
        if self.class_token is not None:
            x = self.class_token(x)
        x = self.embedding_dropout(x, training=training)
        encoded = out["encoded"] = apply_transformer_encoder(
            x,
            self.encoder_blocks,
            self.encoder_norm,
            scope=ENCODER_SCOPE,
            training=training,
            outputs=out,
            intermediates=intermediates,
            prefix="encoder/",
        )

        tokens = encoded
        if self.pooling == "map":
            x = self.map_head(encoded, training=training)
        elif self.pooling == "gap":
            x = ops.mean(encoded, axis=1)
        elif self.pooling in ("0", "tok"):
            x = encoded[:, 0]
            if self.pooling == "tok":
                tokens = encoded[:, 1:]
        else:  # "none": per-token features
            x = encoded
        out["head_input"] = x
        if self.grid_size is None:
            x_2d = self.token_grid(tokens, out["stem"])
        else:
            x_2d = ops.reshape(tokens, (-1, *self.grid_size, encoded.shape[-1]))
        if self.pre_logits is not None:
            x_2d = self.pre_logits(x_2d)
            x = self.pre_logits(x)
        out["pre_logits"] = x
        out["pre_logits_2d"] = x_2d
        return out

    def get_intermediates(self, images, names=None, training=False):
        """Runs the model eagerly and returns big_vision's intermediate outputs by name.

        Names (as in big_vision's `out` dict, flattened with "/"): "stem" (B, h, w, D),
        "with_posemb" (B, h*w, D), "encoder/blockNN/sa", ".../+sa", ".../mlp", ".../+mlp"
        (parallel blocks have no "+sa"), "encoder/pre_ln", "encoded", "head_input",
        "pre_logits", "pre_logits_2d".

        Args:
            images: (B, H, W, C) array matching `image_shape` (any H, W when it has None).
            names: optional iterable of names to return (unknown names raise); default all.
            training: bool (dropout on/off).

        Returns:
            dict name -> tensor.
        """
        images = ops.convert_to_tensor(images, dtype=self.compute_dtype)
        return select_intermediates(self._forward(images, training=training, intermediates=True), names)

    @classmethod
    def from_variant(cls, variant, **overrides):
        """Builds a backbone from a big_vision size name, e.g. "S/16" or "B" (+ explicit overrides).

        Sizes: mu, Ti, S, M, B, L, So400m, H, g, g-opt, G, G-opt, e. "/16" sets patch_size.

        Example:
            >>> ViTBackbone.from_variant("mu/8", image_shape=(32, 32, 3), pooling="map")
        """
        return cls(**{**decode_variant(variant), **overrides})

    def with_image_shape(self, image_shape):
        """A copy of this backbone for another `image_shape`, weights copied.

        A learned position embedding is resampled to the new grid with align-corners
        bilinear interpolation (big_vision's load-time resize); sincos2d is recomputed.
        """
        config = self.get_config()
        config["image_shape"] = tuple(image_shape)
        new = self.__class__.from_config(config)
        for layer in self.layers:
            if not layer.weights:
                continue
            target = new.get_layer(layer.name)
            if isinstance(layer, PositionEmbedding):
                target.set_embeddings(ops.convert_to_numpy(layer.embeddings), old_grid=layer.grid_size)
            else:
                target.set_weights(layer.get_weights())
        return new

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "image_shape": self.image_shape,
                "patch_size": self.patch_size,
                "hidden_dim": self.hidden_dim,
                "num_layers": self.num_layers,
                "num_heads": self.num_heads,
                "intermediate_dim": self.intermediate_dim,
                "pooling": self.pooling,
                "position_embedding": self.position_embedding_type,
                "representation_size": self.representation_size,
                "dropout_rate": self.dropout_rate,
                "block_type": self.block_type,
                "qk_norm": self.qk_norm,
                "use_bias": self.use_bias,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "stochastic_depth_rate": self.stochastic_depth_rate,
            }
        )
        return config
