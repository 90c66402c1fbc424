"""PaliGemma backbone (big_vision `models/proj/paligemma/paligemma.py`): ViT image tokens + Gemma prefix-LM."""

import math

import keras
from keras import ops
from keras_hub.layers import ReversibleEmbedding
from keras_hub.models import Backbone

from keras_vision.api_export import keras_vision_export
from keras_vision.models.pali.gemma_decoder_block import GemmaDecoderBlock
from keras_vision.models.pali.gemma_rms_norm import GemmaRMSNorm
from keras_vision.models.pali.image_tower import LLM_SCOPE
from keras_vision.models.pali.image_tower import build_image_tower
from keras_vision.models.pali.image_tower import check_image_shape
from keras_vision.models.pali.image_tower import encode_images
from keras_vision.models.pali.paligemma_inputs import make_attention_mask
from keras_vision.models.pali.paligemma_inputs import standardize_inputs



@keras_vision_export("keras_vision.models.pali.PaliGemmaBackbone")
class PaliGemmaBackbone(Backbone):
    """PaliGemma: ViT image tokens as the prefix of a Gemma decoder, big_vision's numerics and names.

    images -> ViT (pooling "none") -> Dense `head` to the LLM width on every patch token
    ("zimg"); tokens -> Gemma embedding * sqrt(hidden_dim); the sequence
    [image tokens, text tokens] runs through the decoder under big_vision's
    `make_attn_mask` (image tokens and text tokens with `mask_ar` 0 attend to each other
    fully, tokens with `mask_ar` 1 start a new causal step); the final RMSNorm output
    ("pre_logits", every position) is projected with the transposed embedding (tied) to
    "text_logits" for the text positions only.

    Inputs (a dict): "images" (B, H, W, C) in [-1, 1]; "tokens" (B, T) int; "mask_ar"
    (B, T) int, default all ones (causal); "mask_input" (B, T), 1 for real tokens and 0
    for padding, default all ones. Outputs: {"text_logits" (B, T, V), "zimg" (B, N, D),
    "pre_logits" (B, N + T, D)}. `prefill_cache` / `extend_cache` decode with a fixed-size
    KV cache and give the logits of the full forward pass.

    Variable paths follow big_vision's checkpoint names under `img/` (the ViT, e.g.
    `img/Transformer/encoderblock_0/...`, and `img/head`) and `llm/` (`llm/embedder/
    embeddings`, `llm/layers_{i}/attn/q_einsum`, `llm/final_norm/scale`).

    Args:
        vocabulary_size: int, V (big_vision `vocab_size`).
        image_shape: (height, width, channels).
        vit_patch_size: int or (h, w).
        vit_hidden_dim, vit_num_layers, vit_num_heads: ints (big_vision img `width`,
            `depth`, `num_heads`).
        vit_intermediate_dim: optional int (img `mlp_dim`; default 4 * vit_hidden_dim).
        vit_position_embedding: "learn" or "sincos2d".
        vit_dropout_rate: float (img `dropout`).
        hidden_dim: int, D, the Gemma width.
        num_layers: int, Gemma depth.
        num_heads: int, query heads.
        num_key_value_heads: int, key/value heads (1: multi-query; big_vision `num_kv_heads`).
        head_dim: int.
        intermediate_dim: int, GeGLU size F (big_vision `mlp_dim`; KerasHub's Gemma
            stores 2F under this name, here it is F).
        layer_norm_epsilon: float, RMSNorm epsilon (1e-6, hard-coded in big_vision).
        query_head_dim_normalize: bool, queries scaled by head_dim**-0.5 (True) or
            (hidden_dim // num_heads)**-0.5 (False, Gemma 2 27B).
        attention_logit_soft_cap: optional float (Gemma 2: 50).
        final_logit_soft_cap: optional float, `tanh(l / cap) * cap` on every logit (Gemma 2's
            30). big_vision's PaliGemma text logits do not apply Gemma's cap (see
            `gemma_variants.gemma_backbone_kwargs`), so its converter leaves this None.
        use_post_attention_norm, use_post_ffw_norm: bool (Gemma 2 `post_norms`).
        dropout_rate: float, Gemma block dropout (big_vision llm `dropout`).
        dtype: dtype policy.

    Example:
        >>> backbone = PaliGemmaBackbone(vocabulary_size=97, image_shape=(32, 32, 3), vit_patch_size=8,
        ...     vit_hidden_dim=32, vit_num_layers=1, vit_num_heads=2, hidden_dim=32, num_layers=2,
        ...     num_heads=2, num_key_value_heads=1, head_dim=16, intermediate_dim=64)
        >>> out = backbone({"images": images, "tokens": tokens, "mask_ar": mask_ar})
        >>> out["text_logits"].shape  # (B, T, 97)

    Paper: "PaliGemma: A versatile 3B VLM for transfer" (https://arxiv.org/abs/2407.07726);
    "PaliGemma 2" (https://arxiv.org/abs/2412.03555).
    """

    def __init__(
        self,
        vocabulary_size=256_000,
        image_shape=(224, 224, 3),
        vit_patch_size=14,
        vit_hidden_dim=1152,
        vit_num_layers=27,
        vit_num_heads=16,
        vit_intermediate_dim=4304,
        vit_position_embedding="learn",
        vit_dropout_rate=0.0,
        hidden_dim=2048,
        num_layers=18,
        num_heads=8,
        num_key_value_heads=1,
        head_dim=256,
        intermediate_dim=16_384,
        layer_norm_epsilon=1e-6,
        query_head_dim_normalize=True,
        attention_logit_soft_cap=None,
        final_logit_soft_cap=None,
        use_post_attention_norm=False,
        use_post_ffw_norm=False,
        dropout_rate=0.0,
        dtype=None,
        **kwargs,
    ):
        image_shape = check_image_shape(image_shape, "PaliGemmaBackbone")
        # === Layers ===
        self.vit, self.vit_head = build_image_tower(
            hidden_dim, image_shape, vit_patch_size, vit_hidden_dim, vit_num_layers, vit_num_heads,
            vit_intermediate_dim, vit_position_embedding, vit_dropout_rate, dtype,
        )
        with keras.name_scope(LLM_SCOPE):
            self.embedder = ReversibleEmbedding(
                vocabulary_size,
                hidden_dim,
                tie_weights=True,
                # big_vision: normal with variance 1 / width (fan over the embedding axis).
                embeddings_initializer=keras.initializers.VarianceScaling(1.0, "fan_out", "untruncated_normal"),
                logit_soft_cap=float(final_logit_soft_cap) if final_logit_soft_cap else None,
                name="embedder",
                dtype=dtype,
            )
            self.decoder_blocks = [
                GemmaDecoderBlock(
                    num_heads=num_heads,
                    num_key_value_heads=num_key_value_heads,
                    head_dim=head_dim,
                    intermediate_dim=intermediate_dim,
                    query_head_dim_normalize=query_head_dim_normalize,
                    attention_logit_soft_cap=attention_logit_soft_cap,
                    use_post_attention_norm=use_post_attention_norm,
                    use_post_ffw_norm=use_post_ffw_norm,
                    layer_norm_epsilon=layer_norm_epsilon,
                    dropout_rate=dropout_rate,
                    name=f"layers_{i}",
                    dtype=dtype,
                )
                for i in range(int(num_layers))
            ]
            self.final_norm = GemmaRMSNorm(layer_norm_epsilon, name="final_norm", dtype=dtype)

        # === Functional Model ===
        inputs = {
            "images": keras.Input(shape=image_shape, name="images"),
            "tokens": keras.Input(shape=(None,), dtype="int32", name="tokens"),
            "mask_ar": keras.Input(shape=(None,), dtype="int32", name="mask_ar"),
            "mask_input": keras.Input(shape=(None,), dtype="int32", name="mask_input"),
        }
        zimg = self._encode_images(inputs["images"])
        x, input_mask, mask_ar = self._assemble(zimg, inputs["tokens"], inputs["mask_ar"], inputs["mask_input"])
        with keras.name_scope(LLM_SCOPE):
            pre_logits = self._decode(x, make_attention_mask(input_mask, mask_ar))
            text_logits = self.embedder(pre_logits[:, zimg.shape[1] :], reverse=True)
        outputs = {"text_logits": text_logits, "zimg": zimg, "pre_logits": pre_logits}
        super().__init__(inputs=inputs, outputs=outputs, dtype=dtype, **kwargs)
        # `call` also takes big_vision's keys and fills the optional masks.
        self.input_spec = None
        self.token_embedding = self.embedder

        # === Config ===
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
        self.num_key_value_heads = int(num_key_value_heads)
        self.head_dim = int(head_dim)
        self.intermediate_dim = int(intermediate_dim)
        self.layer_norm_epsilon = float(layer_norm_epsilon)
        self.query_head_dim_normalize = bool(query_head_dim_normalize)
        self.attention_logit_soft_cap = float(attention_logit_soft_cap) if attention_logit_soft_cap else None
        self.final_logit_soft_cap = float(final_logit_soft_cap) if final_logit_soft_cap else None
        self.use_post_attention_norm = bool(use_post_attention_norm)
        self.use_post_ffw_norm = bool(use_post_ffw_norm)
        self.dropout_rate = float(dropout_rate)
        self.num_image_tokens = int(zimg.shape[1])

    # --- the forward pass, shared by the graph and the cached decoding ------------------
    def _encode_images(self, images, training=None):
        return encode_images(self.vit, self.vit_head, images, training=training)

    def _embed_tokens(self, tokens):
        x = self.embedder(tokens)
        return x * ops.cast(math.sqrt(self.embedder.output_dim), x.dtype)

    def _assemble(self, zimg, tokens, mask_ar, mask_input):
        """[image tokens, embedded text] and the full-sequence input_mask / mask_ar (image part: 1 / 0)."""
        with keras.name_scope(LLM_SCOPE):
            ztxt = self._embed_tokens(tokens)
        x = ops.concatenate([zimg, ops.cast(ztxt, zimg.dtype)], axis=1)
        image_ones = ops.ones_like(zimg[:, :, 0], dtype="int32")
        input_mask = ops.concatenate([image_ones, ops.cast(mask_input, "int32")], axis=1)
        mask_ar = ops.concatenate([ops.zeros_like(image_ones), ops.cast(mask_ar, "int32")], axis=1)
        return x, input_mask, mask_ar

    def _decode(self, x, attention_mask, training=None):
        for block in self.decoder_blocks:
            x = block(x, attention_mask=attention_mask, training=training)
        return self.final_norm(x)

    def call(self, inputs, training=None, mask=None):
        # Accepts big_vision's batch keys ("image", "text") and fills the optional masks.
        inputs = standardize_inputs(inputs)
        self._check_image_shape(inputs["images"])
        return super().call(inputs, training=training, mask=mask)

    # --- conveniences ---------------------------------------------------------------------
    def text_logits(self, images, tokens, mask_ar=None, mask_input=None, training=False):
        """big_vision `Model.__call__`: logits (B, T, V) of the text positions.

        `mask_ar` None is all ones (pure causal text, big_vision's `text_logits_causal`).
        """
        inputs = {"images": images, "tokens": tokens, "mask_ar": mask_ar, "mask_input": mask_input}
        # Absent masks are left out (filled by `call`): Keras rejects None for a graph input.
        return self({k: v for k, v in inputs.items() if v is not None}, training=training)["text_logits"]

    def encode_images(self, images, training=False):
        """Image tokens (B, N, D) projected to the LLM width (big_vision `embed_image`, "img/zimg")."""
        images = ops.convert_to_tensor(images, self.compute_dtype)
        self._check_image_shape(images)
        return self._encode_images(images, training=training)

    # --- cached decoding (the interface of keras_vision.decoding.generate) ------------------
    def prefill_cache(self, inputs, cache_size):
        """Runs the prompt [image, text] and fills a fixed-size KV cache (big_vision `prefill_cache`).

        Prompts of different lengths come left-aligned (`mask_input` 1 then 0s), as in
        big_vision's eval batches; like big_vision's `gemma_bv.prefill_cache`, each example
        is rolled to be right-aligned, so all of them end at the same cache position and
        decoding writes one shared cache row per step, while RoPE positions count valid
        tokens only. Decoding a padded prompt is then the same as decoding it alone.

        Args:
            inputs: {"images", "tokens", "mask_ar", "mask_input"} (big_vision's "image"/
                "text" keys too); the prompt text, typically `mask_ar` 0 (the prefix).
            cache_size: int, how many tokens can be decoded after the prompt.

        Returns:
            (logits (B, V) of the first token to generate, cache): a dict whose tensors all
            have the batch axis first — "kv" (one (B, 2, P + cache_size, K, H) tensor per
            layer), "begin" (B,) the first cache position in use, "end" (B,) the next
            position to write (the same for all examples), "positions" (B,) the next RoPE
            position.
        """
        batch = standardize_inputs(inputs)
        images = ops.convert_to_tensor(batch["images"], self.compute_dtype)
        self._check_image_shape(images)
        zimg = self._encode_images(images)
        x, input_mask, mask_ar = self._assemble(zimg, batch["tokens"], batch["mask_ar"], batch["mask_input"])
        attention_mask = ops.cast(make_attention_mask(input_mask, mask_ar), "int32")
        length = int(x.shape[1])
        cache_size = int(cache_size)
        seq_len = ops.sum(input_mask, axis=1)
        # big_vision `_left_to_right_align`: roll each example left by its length.
        order = (ops.arange(length, dtype="int32")[None, :] + seq_len[:, None]) % length
        x = ops.take_along_axis(x, order[:, :, None], axis=1)
        input_mask = ops.take_along_axis(input_mask, order, axis=1)
        attention_mask = ops.take_along_axis(attention_mask, order[:, :, None], axis=1)
        attention_mask = ops.take_along_axis(attention_mask, order[:, None, :], axis=2)
        attention_mask = ops.pad(attention_mask, ((0, 0), (0, 0), (0, cache_size)))  # unused positions: masked
        positions = ops.maximum(ops.cumsum(input_mask, axis=1) - 1, 0)
        kv = ops.zeros((ops.shape(x)[0], 2, length + cache_size, self.num_key_value_heads, self.head_dim), x.dtype)
        caches = []
        for block in self.decoder_blocks:
            x, layer_cache = block(x, attention_mask=attention_mask, cache=kv, cache_update_index=0, positions=positions)
            caches.append(layer_cache)
        logits = self.embedder(self.final_norm(x[:, -1:]), reverse=True)[:, 0]
        cache = {
            "kv": tuple(caches),
            "begin": length - seq_len,
            "end": ops.full_like(seq_len, length),
            "positions": seq_len,
        }
        return logits, cache

    def extend_cache(self, tokens, cache, step=None):
        """Decodes one token per example (B, 1) after the cached sequence (big_vision `extend_cache`).

        The token attends to every cached position of its example and to itself. `step`
        (the index of the token among the generated ones) is not needed: the cache knows
        its positions. Returns (logits (B, V) of the next token, the new cache). Undefined
        once the cache is full (as big_vision's).
        """
        tokens = ops.convert_to_tensor(tokens, "int32")
        if len(tokens.shape) != 2 or tokens.shape[1] != 1:
            raise ValueError(f"extend_cache takes one token per example, shape (B, 1), got {tuple(tokens.shape)}.")
        index = cache["end"][0]
        size = cache["kv"][0].shape[2]
        slots = ops.arange(size, dtype="int32")[None, None, :]
        attention_mask = ops.logical_and(slots >= cache["begin"][:, None, None], slots <= index)
        positions = cache["positions"][:, None]
        x = self._embed_tokens(tokens)
        caches = []
        for block, layer_cache in zip(self.decoder_blocks, cache["kv"]):
            x, layer_cache = block(
                x, attention_mask=attention_mask, cache=layer_cache, cache_update_index=index, positions=positions
            )
            caches.append(layer_cache)
        logits = self.embedder(self.final_norm(x), reverse=True)[:, 0]
        new_cache = {"kv": tuple(caches), "begin": cache["begin"], "end": cache["end"] + 1,
                     "positions": cache["positions"] + 1}
        return logits, new_cache

    def _check_image_shape(self, images):
        if tuple(images.shape[1:]) != tuple(self.image_shape):
            raise ValueError(
                f"PaliGemma images must be (batch, {', '.join(map(str, self.image_shape))}) "
                f"(image_shape {self.image_shape}), got shape {tuple(images.shape)}."
            )

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
                "num_key_value_heads": self.num_key_value_heads,
                "head_dim": self.head_dim,
                "intermediate_dim": self.intermediate_dim,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "query_head_dim_normalize": self.query_head_dim_normalize,
                "attention_logit_soft_cap": self.attention_logit_soft_cap,
                "final_logit_soft_cap": self.final_logit_soft_cap,
                "use_post_attention_norm": self.use_post_attention_norm,
                "use_post_ffw_norm": self.use_post_ffw_norm,
                "dropout_rate": self.dropout_rate,
            }
        )
        return config
