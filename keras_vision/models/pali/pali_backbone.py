"""PaLI backbone: ViT image tokens + an embedded text prompt -> mT5 encoder; mT5 decoder -> text logits."""

import operator

import keras
from keras import ops
from keras_hub.layers import ReversibleEmbedding
from keras_hub.models import Backbone

from keras_vision.api_export import keras_vision_export
from keras_vision.models.pali.image_tower import LLM_SCOPE
from keras_vision.models.pali.image_tower import build_image_tower
from keras_vision.models.pali.image_tower import check_image_shape
from keras_vision.models.pali.image_tower import encode_images
from keras_vision.models.pali.paligemma_inputs import as_tensor
from keras_vision.models.pali.t5_decoder_block import T5DecoderBlock
from keras_vision.models.pali.t5_encoder_block import T5EncoderBlock
from keras_vision.models.pali.t5_rms_norm import T5RMSNorm
from keras_vision.sizes import to_pair

MODEL_KEYS = ("images", "encoder_tokens", "encoder_mask", "decoder_tokens", "decoder_mask")
ENCODER_KEYS = ("images", "encoder_tokens", "encoder_mask")
CACHE_KEYS = ("self_kv", "cross_kv", "encoder_mask")
# Masks that default to all ones, and the token input each must match.
MASK_OF = {"encoder_mask": "encoder_tokens", "decoder_mask": "decoder_tokens"}


def standardize_pali_inputs(inputs, keys=MODEL_KEYS, extra=(), what="PaLIBackbone"):
    """A PaLI batch dict -> {key: tensor} for `keys` (masks default to ones), plus the `extra` keys given.

    Raises a ValueError naming the bad value: not a dict, a key outside `keys + extra`, a
    missing image/token input, tokens that are not (B, T), or a mask whose shape is not
    its tokens' shape.
    """
    if not isinstance(inputs, dict):
        raise ValueError(f"{what} takes a dict with keys {keys}, got {type(inputs).__name__}.")
    if "image" in inputs:  # big_vision's batch key
        if inputs.get("images") is not None:
            raise ValueError(f"{what} inputs give the images twice ('image' and 'images'); pass one.")
        inputs = {("images" if k == "image" else k): v for k, v in inputs.items()}
    unknown = sorted(set(inputs) - set(keys) - set(extra))
    if unknown:
        expected = tuple(keys) + tuple(extra)
        raise ValueError(f"{what} got unknown input key(s) {unknown}; expected keys among {expected}.")
    out = {}
    for key in keys:
        if key in MASK_OF:
            continue
        if inputs.get(key) is None:
            raise ValueError(f"{what} inputs need {key!r}; got keys {sorted(inputs)}.")
        out[key] = as_tensor(inputs[key])
        if key.endswith("_tokens"):
            if len(out[key].shape) != 2:
                raise ValueError(f"{what} {key} must be (batch, length), got shape {tuple(out[key].shape)}.")
            out[key] = ops.cast(out[key], "int32")
    for mask, tokens in MASK_OF.items():
        if mask not in keys:
            continue
        if inputs.get(mask) is None:
            out[mask] = ops.ones_like(out[tokens])
            continue
        value = as_tensor(inputs[mask])
        shape, expected = tuple(value.shape), tuple(out[tokens].shape)
        if len(shape) != 2 or any(a is not None and b is not None and a != b for a, b in zip(shape, expected)):
            raise ValueError(
                f"{what} {mask} has shape {shape} but {tokens} have shape {expected}; "
                f"expected one {mask} entry per token."
            )
        out[mask] = ops.cast(value, "int32")
    for key in extra:
        if inputs.get(key) is not None:
            out[key] = as_tensor(inputs[key])
    return out


@keras_vision_export("keras_vision.models.pali.PaLIBackbone")
class PaLIBackbone(Backbone):
    """PaLI: ViT image tokens and a text prompt feed an mT5 encoder; an mT5 decoder writes the answer.

    images -> ViT (pooling "none") -> Dense `head` to the T5 width on every patch token;
    prompt tokens -> the shared T5 token embedding (no scaling, as T5); the encoder runs
    on [image tokens, prompt tokens] with relative positions over the whole sequence and
    the padding mask [ones (images), `encoder_mask`]. The decoder reads `decoder_tokens`
    (teacher forcing: the caller shifts right, start token 0), is causal (plus
    `decoder_mask` on its keys) and cross-attends to the encoder output under the same
    encoder mask. Logits: an untied `lm_head` (mT5, T5 v1.1), or with `tie_embeddings`
    the transposed token embedding applied to `decoder_output * hidden_dim ** -0.5` (T5 v1.0).

    Inputs (a dict): "images" (B, H, W, C) in [-1, 1]; "encoder_tokens" (B, T) int;
    "encoder_mask" (B, T), 1 = real prompt token, default ones; "decoder_tokens" (B, L)
    int; "decoder_mask" (B, L), default ones. Outputs: {"logits" (B, L, V),
    "encoder_output" (B, N + T, D)} with N image tokens.

    Decoding: `prefill_cache(inputs, cache_size)` encodes once, precomputes every
    cross-attention key/value and runs the start token 0 at decoder position 0;
    `extend_cache(tokens, cache, step)` runs one token at position `step + 1`. Every cache
    tensor is batch-first (beam search may repeat / gather it along axis 0), shapes are
    static and `step` may be a traced int32 scalar (jit / while loops).

    Defaults: PaLI-3B, the paper's smallest model: mT5-Large (d_model 1024, 24 + 24
    layers, 16 heads of 64, d_ff 2816, vocabulary 250 112, 32 buckets, max distance 128,
    gated GELU, untied head) and ViT-G/14 at 224 px (width 1664, depth 48, MLP 8192,
    16 heads: 256 image tokens). PaLI-15B pairs ViT-G with mT5-XXL (`hidden_dim=4096,
    num_heads=64, intermediate_dim=10240`); PaLI-17B uses ViT-e. Small test models set
    every size explicitly.

    Variable paths: `img/...` (the ViT's big_vision names: `img/embedding`,
    `img/Transformer/encoderblock_{i}/...`) and `img/head`;
    `llm/token_embedding/embeddings`, `llm/encoder_layers_{i}/{pre_self_attention_norm,
    self_attention/{q,k,v,o,relative_attention_bias}, pre_mlp_norm, mlp/{wi_0,wi_1,wo}}`,
    `llm/encoder_norm`, `llm/decoder_layers_{i}/...` (plus `pre_cross_attention_norm`,
    `cross_attention`), `llm/decoder_norm`, `llm/lm_head` (untied).

    Args:
        vocabulary_size: int, V (mT5: 250 112).
        image_shape: (height, width, channels), static.
        vit_patch_size: int or (h, w).
        vit_hidden_dim, vit_num_layers, vit_num_heads: ints.
        vit_intermediate_dim: optional int (default 4 * vit_hidden_dim).
        vit_position_embedding: "learn" or "sincos2d".
        vit_dropout_rate: float.
        hidden_dim: int, T5 `d_model`.
        num_layers: int, encoder layers and decoder layers (each).
        num_heads: int.
        head_dim: int, T5 `d_kv`.
        intermediate_dim: int, T5 `d_ff`.
        activation: "gelu" (tanh approximation, mT5 / T5 v1.1) or "relu" (T5 v1.0).
        use_gated_activation: bool (mT5 / T5 v1.1: True).
        relative_attention_num_buckets, relative_attention_max_distance: ints (32, 128).
        layer_norm_epsilon: float (1e-6).
        dropout_rate: float, T5 dropout (embeddings, attention, MLP, residual branches,
            final norms); 0.0 by default (mT5 pre-training; T5 fine-tuning used 0.1).
        tie_embeddings: bool, logits through the (scaled) token embedding (T5 v1.0) or
            an untied `lm_head` (mT5, T5 v1.1: the default).
        dtype: dtype policy.

    Example:
        >>> backbone = PaLIBackbone(vocabulary_size=97, image_shape=(32, 32, 3), vit_patch_size=8,
        ...     vit_hidden_dim=32, vit_num_layers=1, vit_num_heads=2, hidden_dim=32, num_layers=2,
        ...     num_heads=2, head_dim=16, intermediate_dim=64)
        >>> out = backbone({"images": images, "encoder_tokens": prompt, "decoder_tokens": answer_in})
        >>> out["logits"].shape  # (B, L, 97)

    Paper: "PaLI: A Jointly-Scaled Multilingual Language-Image Model" (https://arxiv.org/abs/2209.06794);
    mT5 (https://arxiv.org/abs/2010.11934); T5 (https://arxiv.org/abs/1910.10683).
    """

    def __init__(
        self,
        vocabulary_size=250_112,
        image_shape=(224, 224, 3),
        vit_patch_size=14,
        vit_hidden_dim=1664,
        vit_num_layers=48,
        vit_num_heads=16,
        vit_intermediate_dim=8192,
        vit_position_embedding="learn",
        vit_dropout_rate=0.0,
        hidden_dim=1024,
        num_layers=24,
        num_heads=16,
        head_dim=64,
        intermediate_dim=2816,
        activation="gelu",
        use_gated_activation=True,
        relative_attention_num_buckets=32,
        relative_attention_max_distance=128,
        layer_norm_epsilon=1e-6,
        dropout_rate=0.0,
        tie_embeddings=False,
        dtype=None,
        **kwargs,
    ):
        image_shape = check_image_shape(image_shape, "PaLIBackbone")
        # === Layers ===
        self.vit, self.vit_head = build_image_tower(
            hidden_dim, image_shape, vit_patch_size, vit_hidden_dim, vit_num_layers, vit_num_heads,
            vit_intermediate_dim, vit_position_embedding, vit_dropout_rate, dtype,
        )
        block_kwargs = dict(
            num_heads=num_heads,
            head_dim=head_dim,
            intermediate_dim=intermediate_dim,
            activation=activation,
            use_gated_activation=use_gated_activation,
            relative_attention_num_buckets=relative_attention_num_buckets,
            relative_attention_max_distance=relative_attention_max_distance,
            layer_norm_epsilon=layer_norm_epsilon,
            dropout_rate=dropout_rate,
            dtype=dtype,
        )
        with keras.name_scope(LLM_SCOPE):
            self.token_embedding = ReversibleEmbedding(
                vocabulary_size,
                hidden_dim,
                tie_weights=True,
                embeddings_initializer=keras.initializers.RandomNormal(stddev=1.0),  # Mesh TF / HF T5
                name="token_embedding",
                dtype=dtype,
            )
            self.embedding_dropout = keras.layers.Dropout(dropout_rate, name="embedding_dropout", dtype=dtype)
            # Only the first layer of each stack owns a relative bias table (T5).
            self.encoder_blocks = [
                T5EncoderBlock(use_relative_attention_bias=i == 0, name=f"encoder_layers_{i}", **block_kwargs)
                for i in range(int(num_layers))
            ]
            self.encoder_norm = T5RMSNorm(layer_norm_epsilon, name="encoder_norm", dtype=dtype)
            self.decoder_blocks = [
                T5DecoderBlock(use_relative_attention_bias=i == 0, name=f"decoder_layers_{i}", **block_kwargs)
                for i in range(int(num_layers))
            ]
            self.decoder_norm = T5RMSNorm(layer_norm_epsilon, name="decoder_norm", dtype=dtype)
            self.output_dropout = keras.layers.Dropout(dropout_rate, name="output_dropout", dtype=dtype)
            self.lm_head = None
            if not tie_embeddings:
                self.lm_head = keras.layers.Dense(
                    vocabulary_size,
                    use_bias=False,
                    kernel_initializer=keras.initializers.RandomNormal(stddev=hidden_dim**-0.5),
                    name="lm_head",
                    dtype=dtype,
                )

        # === Config === (before the graph: the forward pass reads hidden_dim and tie_embeddings)
        self.vocabulary_size = int(vocabulary_size)
        self.image_shape = image_shape
        self.vit_patch_size = vit_patch_size if isinstance(vit_patch_size, int) else tuple(vit_patch_size)
        self.vit_hidden_dim = int(vit_hidden_dim)
        self.vit_num_layers = int(vit_num_layers)
        self.vit_num_heads = int(vit_num_heads)
        self.vit_intermediate_dim = None if vit_intermediate_dim is None else int(vit_intermediate_dim)
        self.vit_position_embedding = vit_position_embedding
        self.vit_dropout_rate = float(vit_dropout_rate)
        self.hidden_dim = int(hidden_dim)
        self.num_layers = int(num_layers)
        self.num_heads = int(num_heads)
        self.head_dim = int(head_dim)
        self.intermediate_dim = int(intermediate_dim)
        self.activation = activation
        self.use_gated_activation = bool(use_gated_activation)
        self.relative_attention_num_buckets = int(relative_attention_num_buckets)
        self.relative_attention_max_distance = int(relative_attention_max_distance)
        self.layer_norm_epsilon = float(layer_norm_epsilon)
        self.dropout_rate = float(dropout_rate)
        self.tie_embeddings = bool(tie_embeddings)

        # === Functional Model ===
        inputs = {
            "images": keras.Input(shape=image_shape, name="images"),
            "encoder_tokens": keras.Input(shape=(None,), dtype="int32", name="encoder_tokens"),
            "encoder_mask": keras.Input(shape=(None,), dtype="int32", name="encoder_mask"),
            "decoder_tokens": keras.Input(shape=(None,), dtype="int32", name="decoder_tokens"),
            "decoder_mask": keras.Input(shape=(None,), dtype="int32", name="decoder_mask"),
        }
        x, encoder_mask = self._assemble(inputs["images"], inputs["encoder_tokens"], inputs["encoder_mask"])
        with keras.name_scope(LLM_SCOPE):  # the T5 layers build here: their paths start with "llm/"
            encoder_output = self.run_encoder(x, encoder_mask)
            decoder_output = self.run_decoder(
                inputs["decoder_tokens"], inputs["decoder_mask"], encoder_output, encoder_mask
            )
            logits = self.compute_logits(decoder_output)
        outputs = {"logits": logits, "encoder_output": encoder_output}
        super().__init__(inputs=inputs, outputs=outputs, dtype=dtype, **kwargs)
        # `call` fills the optional masks and checks the keys and shapes.
        self.input_spec = None
        patch = to_pair(vit_patch_size, "vit_patch_size")
        self.num_image_tokens = (image_shape[0] // patch[0]) * (image_shape[1] // patch[1])

    # --- the forward pass, shared by the graph and the cached decoding ------------------
    def _assemble(self, images, encoder_tokens, encoder_mask, training=None):
        """[image tokens, embedded prompt] (B, N + T, D) and its mask (B, N + T) (image tokens: 1)."""
        zimg = encode_images(self.vit, self.vit_head, images, training=training)
        with keras.name_scope(LLM_SCOPE):
            ztxt = self.token_embedding(encoder_tokens)
        x = ops.concatenate([zimg, ops.cast(ztxt, zimg.dtype)], axis=1)
        image_ones = ops.ones_like(zimg[:, :, 0], dtype="int32")
        return x, ops.concatenate([image_ones, ops.cast(encoder_mask, "int32")], axis=1)

    def run_encoder(self, embeddings, mask, training=None):
        """The T5 encoder stack on an embedded sequence (B, S, D) with padding `mask` (B, S): (B, S, D).

        Dropout, the encoder blocks (bias from the first block), `encoder_norm`, dropout:
        KerasHub's `T5Backbone` encoder from its embedding output on.
        """
        x = self.embedding_dropout(embeddings, training=training)
        attention_mask = ops.cast(mask, "int32")[:, None, :]
        position_bias = None
        for block in self.encoder_blocks:
            x, position_bias = block(x, attention_mask=attention_mask, position_bias=position_bias, training=training)
        return self.output_dropout(self.encoder_norm(x), training=training)

    def run_decoder(self, decoder_tokens, decoder_mask, encoder_output, encoder_mask, training=None):
        """The T5 decoder stack (teacher forcing): decoder output (B, L, D) after `decoder_norm`."""
        x = self.embedding_dropout(self.token_embedding(decoder_tokens), training=training)
        self_mask = ops.cast(decoder_mask, "int32")[:, None, :]
        cross_mask = ops.cast(encoder_mask, "int32")[:, None, :]
        position_bias = None
        for block in self.decoder_blocks:
            x, position_bias = block(
                x,
                encoder_output=encoder_output,
                self_attention_mask=self_mask,
                cross_attention_mask=cross_mask,
                position_bias=position_bias,
                training=training,
            )
        return self.output_dropout(self.decoder_norm(x), training=training)

    def compute_logits(self, decoder_output):
        """Float32 logits of decoder outputs (..., D): untied `lm_head`, or the scaled tied embedding (T5 v1.0)."""
        if self.tie_embeddings:
            scaled = decoder_output * ops.cast(self.hidden_dim**-0.5, decoder_output.dtype)
            logits = self.token_embedding(scaled, reverse=True)
        else:
            logits = self.lm_head(decoder_output)
        return ops.cast(logits, "float32")  # softmax / sampling in float32 under mixed precision

    def call(self, inputs, training=None, mask=None):
        return super().call(standardize_pali_inputs(inputs), training=training, mask=mask)

    # --- conveniences ---------------------------------------------------------------------
    def encode(self, inputs, training=False):
        """{"images", "encoder_tokens", "encoder_mask"?} -> (encoder output (B, N + T, D), encoder mask (B, N + T))."""
        batch = standardize_pali_inputs(inputs, keys=ENCODER_KEYS, what="PaLIBackbone.encode")
        images = ops.convert_to_tensor(batch["images"], self.compute_dtype)
        x, encoder_mask = self._assemble(images, batch["encoder_tokens"], batch["encoder_mask"], training=training)
        return self.run_encoder(x, encoder_mask, training=training), encoder_mask

    # --- cached decoding ------------------------------------------------------------------
    def prefill_cache(self, inputs, cache_size):
        """Encodes the prompt once and decodes the start token 0 at decoder position 0.

        Args:
            inputs: {"images", "encoder_tokens", "encoder_mask" (optional, default ones)}.
            cache_size: int, decoder positions the self-attention cache holds: the start
                token plus up to `cache_size - 1` generated tokens fed back.

        Returns:
            (logits (B, V) of the first generated token, cache) where cache is a dict of
            batch-first tensors: "self_kv" (one (B, 2, cache_size, num_heads, head_dim) per
            layer, position 0 filled), "cross_kv" (one (B, 2, N + T, num_heads, head_dim) per
            layer: the encoder keys/values) and "encoder_mask" (B, N + T) int32.
        """
        try:
            size = None if isinstance(cache_size, bool) else operator.index(cache_size)
        except TypeError:
            size = None
        if size is None or size < 1:
            raise ValueError(f"prefill_cache needs a static integer cache_size >= 1, got {cache_size!r}.")
        cache_size = size
        encoder_output, encoder_mask = self.encode(inputs)
        # One tensor per layer (a tuple): a decoding step rewrites its layers' caches, never a stack of all.
        cross_kv = tuple(b.cross_attention_key_value(encoder_output) for b in self.decoder_blocks)
        batch = ops.shape(encoder_output)[0]
        empty = ops.zeros((batch, 2, cache_size, self.num_heads, self.head_dim), encoder_output.dtype)
        cache = {"self_kv": (empty,) * self.num_layers, "cross_kv": cross_kv, "encoder_mask": encoder_mask}
        start = ops.zeros((batch, 1), "int32")
        return self._decode_step(start, cache, ops.zeros((), "int32"))

    def extend_cache(self, tokens, cache, step):
        """Decodes `tokens` (B, 1) int32 at decoder position `step + 1` (`step` 0: the first generated token).

        `step` is an int32 scalar (a Python int or a traced tensor). The token attends to
        decoder positions 0..step + 1 and to the valid encoder positions. Returns (logits
        (B, V) of the next token, the cache with this token's keys/values written).
        Positions past `cache_size - 1` are not checked (a traced `step` cannot be).
        """
        tokens = ops.convert_to_tensor(tokens)
        if len(tokens.shape) != 2 or tokens.shape[1] != 1:
            raise ValueError(f"extend_cache takes one token per example, shape (B, 1), got {tuple(tokens.shape)}.")
        if not isinstance(cache, dict) or sorted(cache) != sorted(CACHE_KEYS):
            got = sorted(cache) if isinstance(cache, dict) else type(cache).__name__
            raise ValueError(f"extend_cache needs the cache dict of prefill_cache with keys {CACHE_KEYS}, got {got}.")
        index = ops.cast(step, "int32") + 1
        return self._decode_step(ops.cast(tokens, "int32"), cache, index)

    def _decode_step(self, tokens, cache, index):
        x = self.token_embedding(tokens)
        cross_mask = ops.cast(cache["encoder_mask"], "int32")[:, None, :]
        position_bias = None
        new_kv = []
        for i, block in enumerate(self.decoder_blocks):
            x, position_bias, layer_kv = block(
                x,
                cross_attention_mask=cross_mask,
                position_bias=position_bias,
                self_attention_cache=cache["self_kv"][i],
                cache_update_index=index,
                cross_attention_cache=cache["cross_kv"][i],
            )
            new_kv.append(layer_kv)
        logits = self.compute_logits(self.decoder_norm(x))[:, 0]
        return logits, {"self_kv": tuple(new_kv), "cross_kv": cache["cross_kv"],
                        "encoder_mask": cache["encoder_mask"]}

    # --- config ---------------------------------------------------------------------------
    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocabulary_size": self.vocabulary_size,
                "image_shape": self.image_shape,
                "vit_patch_size": self.vit_patch_size,
                "vit_hidden_dim": self.vit_hidden_dim,
                "vit_num_layers": self.vit_num_layers,
                "vit_num_heads": self.vit_num_heads,
                "vit_intermediate_dim": self.vit_intermediate_dim,
                "vit_position_embedding": self.vit_position_embedding,
                "vit_dropout_rate": self.vit_dropout_rate,
                "hidden_dim": self.hidden_dim,
                "num_layers": self.num_layers,
                "num_heads": self.num_heads,
                "head_dim": self.head_dim,
                "intermediate_dim": self.intermediate_dim,
                "activation": self.activation,
                "use_gated_activation": self.use_gated_activation,
                "relative_attention_num_buckets": self.relative_attention_num_buckets,
                "relative_attention_max_distance": self.relative_attention_max_distance,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "dropout_rate": self.dropout_rate,
                "tie_embeddings": self.tie_embeddings,
            }
        )
        return config
