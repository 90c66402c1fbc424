"""big_vision's text transformer (the SigLIP / LiT text tower) as a KerasHub Backbone."""

import keras
from keras import ops
from keras_hub.layers import ReversibleEmbedding
from keras_hub.models import Backbone

from keras_vision.api_export import keras_vision_export
from keras_vision.layers import MAPHead
from keras_vision.layers import PositionEmbedding
from keras_vision.layers import apply_transformer_encoder
from keras_vision.layers import make_transformer_encoder
from keras_vision.models._utils import select_intermediates
from keras_vision.models.vit.vit_variants import decode_variant

POOLINGS = ("last", "first", "mean", "gap", "max", "gmp", "map")
# Scope of the blocks and final norm: variable paths read like big_vision's
# parameter names ("Encoder_0/encoderblock_0/MlpBlock_0/Dense_0/kernel").
ENCODER_SCOPE = "Encoder_0"


@keras_vision_export("keras_vision.models.TextTransformerBackbone")
class TextTransformerBackbone(Backbone):
    """Transformer text encoder of SigLIP / LiT (big_vision `text_transformer`).

    Token ids (B, L) -> token embedding -> + learned position embedding (fixed
    length L) -> pre-LN encoder blocks *without any mask* (the ViT's blocks) ->
    final LayerNorm -> pooling -> optional Dense head. With SigLIP tokenization
    (sticky EOS, pad id = EOS id) the "last" token summarises the text.

    Returns a dict: "sequence_output" (B, L, D) after the final LayerNorm,
    "pre_logits" (B, D) pooled, "embeddings" (B, output_dim or D) after the head.
    `vocab_logits(sequence_output)` applies the tied token embedding (big_vision's
    `vocab_logits`); `get_intermediates(token_ids)` returns every big_vision
    intermediate by name. Variable paths mirror big_vision's parameter names:
    `Embed_0/embeddings`, `pos_embedding/embeddings`, `Encoder_0/encoderblock_{i}/...`,
    `Encoder_0/encoder_norm/scale`, `MAPHead_0/...`, `head/kernel`.

    Args:
        vocabulary_size: number of token ids (big_vision `vocab_size`).
        sequence_length: the fixed text length L (the length of `pos_embedding`).
        hidden_dim: width D (`width`).
        num_layers: number of encoder blocks (`depth`).
        num_heads: attention heads.
        intermediate_dim: MLP hidden size (`mlp_dim`); default 4 * D.
        pooling: "last", "first", "mean"/"gap", "max"/"gmp" or "map" (`pool_type`).
        output_dim: size of the Dense head (`num_classes`), None for no head.
        dropout_rate: dropout after the position embedding and inside the blocks.
        layer_norm_epsilon: LayerNorm epsilon (1e-6 as big_vision).
        dtype: dtype policy.

    Example:
    >>> txt = TextTransformerBackbone(vocabulary_size=100, sequence_length=16,
    ...     hidden_dim=64, num_layers=2, num_heads=2, intermediate_dim=128, output_dim=64)
    >>> txt(np.ones((2, 16), "int32"))["embeddings"].shape
    (2, 64)

    Papers: SigLIP (https://arxiv.org/abs/2303.15343); LiT (https://arxiv.org/abs/2111.07991).
    """

    def __init__(
        self,
        vocabulary_size,
        sequence_length,
        hidden_dim,
        num_layers,
        num_heads,
        intermediate_dim=None,
        pooling="last",
        output_dim=None,
        dropout_rate=0.0,
        layer_norm_epsilon=1e-6,
        dtype=None,
        **kwargs,
    ):
        if pooling not in POOLINGS:
            raise ValueError(f"Unknown pooling {pooling!r}; expected one of {POOLINGS}.")

        intermediate_dim = None if intermediate_dim is None else int(intermediate_dim)

        # === Layers ===
        # flax nn.Embed's default init: variance scaling with fan-in over the vocabulary.
        self.token_embedding = ReversibleEmbedding(
            int(vocabulary_size),
            int(hidden_dim),
            tie_weights=True,
            embeddings_initializer=keras.initializers.VarianceScaling(1.0, "fan_in", "truncated_normal"),
            name="Embed_0",
            dtype=dtype,
        )
        self.position_embedding = PositionEmbedding(
            grid_size=(1, int(sequence_length)), name="pos_embedding", dtype=dtype
        )
        self.embedding_dropout = keras.layers.Dropout(dropout_rate, name="dropout", dtype=dtype)
        self.encoder_blocks, self.encoder_norm = make_transformer_encoder(
            num_layers,
            num_heads,
            intermediate_dim=intermediate_dim,
            dropout_rate=dropout_rate,
            layer_norm_epsilon=layer_norm_epsilon,
            dtype=dtype,
        )
        self.map_head = None
        if pooling == "map":
            self.map_head = MAPHead(
                num_heads,
                intermediate_dim=intermediate_dim,
                layer_norm_epsilon=layer_norm_epsilon,
                name="MAPHead_0",
                dtype=dtype,
            )
        self.head = None if output_dim is None else keras.layers.Dense(int(output_dim), name="head", dtype=dtype)

        # === Functional Model ===
        self.pooling = pooling  # needed by _forward
        token_ids = keras.Input(shape=(int(sequence_length),), dtype="int32", name="token_ids")
        out = self._forward(token_ids)
        outputs = {"sequence_output": out["transformed"], "pre_logits": out["pre_logits"], "embeddings": out["logits"]}
        super().__init__(inputs=token_ids, outputs=outputs, dtype=dtype, **kwargs)

        # === Config ===
        self.vocabulary_size = int(vocabulary_size)
        self.sequence_length = int(sequence_length)
        self.hidden_dim = int(hidden_dim)
        self.num_layers = int(num_layers)
        self.num_heads = int(num_heads)
        self.intermediate_dim = intermediate_dim
        self.output_dim = None if output_dim is None else int(output_dim)
        self.dropout_rate = float(dropout_rate)
        self.layer_norm_epsilon = float(layer_norm_epsilon)

    def _forward(self, token_ids, training=None, intermediates=False):
        """The forward pass with big_vision's output names ("embedded", "blockNN/...",
        "pre_ln", "transformed", "pre_logits", "logits")."""
        out = {}
        x = out["embedded"] = self.token_embedding(token_ids)
        x = self.position_embedding(x)
        x = self.embedding_dropout(x, training=training)
        x = out["transformed"] = apply_transformer_encoder(
            x,
            self.encoder_blocks,
            self.encoder_norm,
            scope=ENCODER_SCOPE,
            training=training,
            outputs=out,
            intermediates=intermediates,
        )
        if self.pooling == "last":
            pooled = x[:, -1]
        elif self.pooling == "first":
            pooled = x[:, 0]
        elif self.pooling in ("mean", "gap"):
            pooled = ops.mean(x, axis=1)
        elif self.pooling in ("max", "gmp"):
            pooled = ops.max(x, axis=1)
        else:
            pooled = self.map_head(x, training=training)
        out["pre_logits"] = pooled
        out["logits"] = pooled if self.head is None else self.head(pooled)
        return out

    def vocab_logits(self, sequence_output):
        """Logits over the vocabulary from the tied token embedding: (B, L, V)."""
        return self.token_embedding(sequence_output, reverse=True)

    def get_intermediates(self, token_ids, names=None, training=False):
        """Runs the model eagerly and returns big_vision's intermediate outputs by name.

        Names: "embedded", "blockNN/{sa,+sa,mlp,+mlp}", "pre_ln", "transformed",
        "vocab_logits", "pre_logits", "logits".
        """
        out = self._forward(ops.convert_to_tensor(token_ids, "int32"), training=training, intermediates=True)
        out["vocab_logits"] = self.vocab_logits(out["transformed"])
        return select_intermediates(out, names)

    @classmethod
    def from_variant(cls, variant, **overrides):
        """Builds a text tower from a big_vision size name ("mu", "S", "B", "So400m", ...).

        Example:
        >>> TextTransformerBackbone.from_variant("B", vocabulary_size=32_000, sequence_length=64)
        """
        sizes = decode_variant(variant)
        sizes.pop("patch_size", None)
        return cls(**{**sizes, **overrides})

    def get_config(self):
        config = super().get_config()
        config.update(
            vocabulary_size=self.vocabulary_size,
            sequence_length=self.sequence_length,
            hidden_dim=self.hidden_dim,
            num_layers=self.num_layers,
            num_heads=self.num_heads,
            intermediate_dim=self.intermediate_dim,
            pooling=self.pooling,
            output_dim=self.output_dim,
            dropout_rate=self.dropout_rate,
            layer_norm_epsilon=self.layer_norm_epsilon,
        )
        return config
