"""PaLI task: `PaLIBackbone` trained with teacher forcing and the next-token loss (`fit` on batch dicts)."""

from keras import ops

from keras_vision.api_export import keras_vision_export
from keras_vision.models.pali.next_token_task import NextTokenTask
from keras_vision.models.pali.next_token_task import next_token_xent
from keras_vision.models.pali.pali_backbone import MODEL_KEYS
from keras_vision.models.pali.pali_backbone import PaLIBackbone
from keras_vision.models.pali.pali_backbone import standardize_pali_inputs


def shift_right(targets, start_token=0):
    """Teacher-forcing decoder input `[start_token, targets[:, :-1]]` of targets (B, L)."""
    start = ops.full_like(targets[:, :1], start_token)
    return ops.concatenate([start, targets[:, :-1]], axis=1)


@keras_vision_export("keras_vision.models.pali.PaLISeq2SeqLM")
class PaLISeq2SeqLM(NextTokenTask):
    """PaLI image+prompt -> text model: predicts answer logits, trains with `fit(batches)`.

    Calling the model on {"images", "encoder_tokens", "encoder_mask"?, "decoder_tokens",
    "decoder_mask"?} returns the backbone's logits (B, L, V) for the given decoder inputs.
    `fit` takes training batches {"images", "encoder_tokens", "encoder_mask",
    "decoder_tokens", "mask_loss"} where "decoder_tokens" are the *targets*: the decoder
    reads them shifted right with the start token 0 (`[0, targets[:, :-1]]`) and
    `next_token_xent` scores every target under `mask_loss` (per example normalised by
    its number of loss tokens, then the mean over the batch). A call on such a batch
    (it has "mask_loss") shifts the same way, so the `y_pred` of `fit` is reused by
    `compute_loss` and the forward pass runs once per step. No `loss=` in `compile`.

    Decoding: `generate` (greedy, beam, top-k, top-p, temperature) over the backbone's
    `prefill_cache` / `extend_cache` (see `PaLIBackbone`); EOS 1, pad 0 as mT5.

    Args:
        backbone: a `PaLIBackbone`.
        label_smoothing: float.
        preprocessor: optional preprocessing layer (KerasHub Task interface).
        **kwargs: `keras_hub.models.Task` arguments.

    Example:
        >>> model = PaLISeq2SeqLM(PaLIBackbone(...))
        >>> model.compile(optimizer=keras.optimizers.Adam(1e-4))
        >>> model.fit(dataset)  # {"images", "encoder_tokens", "encoder_mask", "decoder_tokens", "mask_loss"}

    Paper: "PaLI: A Jointly-Scaled Multilingual Language-Image Model" (https://arxiv.org/abs/2209.06794).
    """

    backbone_cls = PaLIBackbone
    train_keys = ("images", "encoder_tokens", "encoder_mask", "decoder_tokens", "mask_loss")

    def __init__(self, backbone, label_smoothing=0.0, preprocessor=None, **kwargs):
        # === Layers ===
        self.backbone = backbone
        self.preprocessor = preprocessor

        # === Functional Model ===
        inputs = dict(backbone.input)
        outputs = backbone(inputs)["logits"]
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        # `call` fills the optional masks, checks keys and shapes, and shifts training batches.
        self.input_spec = None

        # === Config ===
        self.label_smoothing = float(label_smoothing)

    def _model_inputs(self, inputs):
        """The backbone inputs of a call: a training batch (with "mask_loss") is shifted right."""
        batch = standardize_pali_inputs(inputs, extra=("mask_loss",), what="PaLISeq2SeqLM")
        if "mask_loss" in batch:
            batch["decoder_tokens"] = shift_right(batch["decoder_tokens"])
            batch["decoder_mask"] = shift_right(batch["decoder_mask"], start_token=1)
        return {key: batch[key] for key in MODEL_KEYS}

    def call(self, inputs, training=None, mask=None):
        return super().call(self._model_inputs(inputs), training=training, mask=mask)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Next-token cross-entropy of the batch `x` (`y`, if a dict, is merged into it)."""
        batch = self.training_batch(x, y)
        checked = standardize_pali_inputs(batch, extra=("mask_loss",), what="PaLISeq2SeqLM")
        targets = checked["decoder_tokens"]
        mask_shape, target_shape = tuple(checked["mask_loss"].shape), tuple(targets.shape)
        mismatch = any(a is not None and b is not None and a != b for a, b in zip(mask_shape, target_shape))
        if len(mask_shape) != 2 or mismatch:
            raise ValueError(
                f"PaLISeq2SeqLM mask_loss has shape {mask_shape} but decoder_tokens have shape {target_shape}; "
                "expected one mask_loss entry per target token."
            )
        # `fit` computed y_pred = self(x); it is the shifted forward pass only when x held "mask_loss".
        if y_pred is None or not (isinstance(x, dict) and x.get("mask_loss") is not None):
            y_pred = self(batch, training=training)
        loss = next_token_xent(y_pred, targets, checked["mask_loss"], self.label_smoothing, sample_weight=sample_weight)
        return self.with_layer_losses(loss)

    # --- decoding (the backbone's) --------------------------------------------------------
    def prefill_cache(self, inputs, cache_size):
        """`PaLIBackbone.prefill_cache`: (logits (B, V) of the first token, cache)."""
        return self.backbone.prefill_cache(inputs, cache_size)

    def extend_cache(self, tokens, cache, step):
        """`PaLIBackbone.extend_cache`: (logits (B, V) after `tokens` (B, 1) at position step + 1, cache)."""
        return self.backbone.extend_cache(tokens, cache, step)
