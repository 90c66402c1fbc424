"""PaliGemma task: `PaliGemmaBackbone` trained with big_vision's next-token loss (`fit` on batch dicts)."""

from keras_vision.api_export import keras_vision_export
from keras_vision.models.pali.next_token_task import NextTokenTask
from keras_vision.models.pali.next_token_task import next_token_xent
from keras_vision.models.pali.paligemma_backbone import PaliGemmaBackbone
from keras_vision.models.pali.paligemma_inputs import check_like_tokens
from keras_vision.models.pali.paligemma_inputs import standardize_inputs


@keras_vision_export("keras_vision.models.pali.PaliGemmaCausalLM")
class PaliGemmaCausalLM(NextTokenTask):
    """PaliGemma image-conditioned language model: predicts text logits, trains with `fit(batches)`.

    Calling the model on {"images", "tokens", "mask_ar", "mask_input"} (big_vision's
    "image"/"text" keys work too; the masks default to ones) returns the text logits
    (B, T, V) of `PaliGemmaBackbone`. `fit` takes big_vision's training batches
    {"images", "tokens", "mask_ar", "mask_loss"} and, as big_vision's paligemma trainer,
    runs the model on `tokens[:, :-1]` / `mask_ar[:, :-1]` and applies `next_token_xent` to
    `tokens[:, 1:]` masked by `mask_loss[:, 1:]` (normalised per example by its number
    of supervised tokens, mean over the batch). No `loss=` is needed in `compile`.

    `generate` (big_vision's `decode`: prompts {"images", "tokens", "mask_ar", "mask_input"},
    left-aligned, `mask_ar` 0 on the prefix) decodes with the backbone's fixed-size KV cache (`prefill_cache` /
    `extend_cache`, big_vision's names) and a KerasHub sampler, compiled once per shape.
    Not a `keras_hub.models.CausalLM`: KerasHub's samplers feed prompt tokens past the
    shortest prompt one causal step at a time (read in their source), which a prefix-LM's
    full attention over prompts of mixed lengths does not allow; here every prompt is
    prefilled whole (big_vision's way).

    Args:
        backbone: a `PaliGemmaBackbone`.
        label_smoothing: float, big_vision's `config.label_smoothing`.
        preprocessor: optional preprocessing layer (KerasHub Task interface).
        **kwargs: `keras_hub.models.Task` arguments.

    Example:
        >>> model = PaliGemmaCausalLM(PaliGemmaBackbone(...))
        >>> model.compile(optimizer=keras.optimizers.Adam(1e-4))
        >>> model.fit(dataset)  # {"images", "tokens", "mask_ar", "mask_loss"} batches

    Paper: "PaliGemma: A versatile 3B VLM for transfer" (https://arxiv.org/abs/2407.07726).
    """

    backbone_cls = PaliGemmaBackbone
    train_keys = ("images", "tokens", "mask_ar", "mask_loss")

    def __init__(self, backbone, label_smoothing=0.0, preprocessor=None, **kwargs):
        # === Layers ===
        self.backbone = backbone
        self.preprocessor = preprocessor

        # === Functional Model ===
        inputs = dict(backbone.input)
        outputs = backbone(inputs)["text_logits"]
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        # `call` also takes big_vision's keys, the loss-only keys and fills the optional masks.
        self.input_spec = None

        # === Config ===
        self.label_smoothing = float(label_smoothing)

    def call(self, inputs, training=None, mask=None):
        return super().call(standardize_inputs(inputs), training=training, mask=mask)

    def text_logits(self, images, tokens, mask_ar=None, mask_input=None, training=False):
        """big_vision `Model.__call__`: text logits (B, T, V) (`mask_ar` None: causal)."""
        return self.backbone.text_logits(images, tokens, mask_ar=mask_ar, mask_input=mask_input, training=training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """big_vision's next-token loss of the batch `x` (`y`, if a dict, is merged into it)."""
        batch = standardize_inputs(self.training_batch(x, y), extra=("mask_loss",))
        check_like_tokens("mask_loss", batch["mask_loss"], batch["tokens"])
        tokens = batch["tokens"]
        # big_vision feeds text[:, :-1] and predicts text[:, 1:]: the last token is never
        # an input, which matters when it is part of a full-attention (mask_ar 0) block.
        shifted = {
            "images": batch["images"],
            "tokens": tokens[:, :-1],
            "mask_ar": batch["mask_ar"][:, :-1],
            "mask_input": batch["mask_input"][:, :-1],
        }
        logits = self.backbone(shifted, training=training)["text_logits"]
        loss = next_token_xent(
            logits, tokens[:, 1:], batch["mask_loss"][:, 1:], self.label_smoothing, sample_weight=sample_weight
        )
        return self.with_layer_losses(loss)
