"""The language-model tasks' shared part: big_vision's next-token loss, compile defaults, `generate`."""

import keras
from keras import ops
from keras_hub.models import Task

from keras_vision.decoding import GenerateMixin


def next_token_xent(logits, targets, mask_loss, label_smoothing=0.0, sample_weight=None):
    """big_vision's PaliGemma training loss (`trainers/proj/paligemma/train.py`).

    Per example: `-sum_t mask_loss[t] * sum_v targets[t, v] * log_softmax(logits)[t, v]`
    divided by `max(sum_t mask_loss[t], 1)`; then the mean over the batch. Targets are
    one-hot, or with label smoothing `1 - ls` on the label and `ls / (V - 1)` elsewhere.

    Args:
        logits: (B, T, V) predictions for the next token.
        targets: (B, T) int, the next tokens (`tokens[:, 1:]`).
        mask_loss: (B, T), 1 where the token is supervised (`mask_loss[:, 1:]`).
        label_smoothing: float.
        sample_weight: optional (B,) weights of each example's loss (before the mean).

    Example:
        >>> next_token_xent(logits[:, :-1], tokens[:, 1:], mask_loss[:, 1:])
    """
    logp = ops.log_softmax(ops.cast(logits, "float32"), axis=-1)
    vocab = logits.shape[-1]
    onehot = ops.one_hot(ops.cast(targets, "int32"), vocab, dtype="float32")
    if label_smoothing:
        onehot = ops.where(onehot == 1.0, 1.0 - label_smoothing, label_smoothing / (vocab - 1))
    mask = ops.cast(mask_loss, "float32")
    token_logp = ops.sum(logp * onehot, axis=-1) * mask
    per_example = -ops.sum(token_logp, axis=-1) / ops.maximum(ops.sum(mask, axis=-1), 1.0)
    if sample_weight is not None:
        per_example = per_example * ops.reshape(ops.cast(sample_weight, "float32"), (-1,))
    return ops.mean(per_example)


class NextTokenTask(GenerateMixin, Task):
    """Base of `PaliGemmaCausalLM` and `PaLISeq2SeqLM`: trained by `compute_loss`, decoded by `generate`.

    Subclasses build their functional model, set `label_smoothing` and `train_keys`, and
    implement `compute_loss` with `training_batch` and `next_token_xent`. `compile()`
    defaults to big_vision's transfer optimizer and survives `.keras` reloading.
    """

    train_keys = ()

    def training_batch(self, x, y):
        """One batch dict from `fit`'s (x, y): y, if a dict, is merged into x."""
        batch = dict(x) if isinstance(x, dict) else {}
        if isinstance(y, dict):
            batch.update(y)
        elif y is not None:
            raise ValueError(
                f"{type(self).__name__} trains on batch dicts with keys {self.train_keys}; got a separate y of "
                f"type {type(y).__name__}."
            )
        if batch.get("mask_loss") is None:
            raise ValueError(
                f"{type(self).__name__} training batches need 'mask_loss' (one entry per target token); "
                f"got keys {sorted(batch)}."
            )
        return batch

    def with_layer_losses(self, loss):
        return loss + ops.sum(self.losses) if self.losses else loss

    def compile(self, optimizer="auto", loss=None, metrics=None, **kwargs):
        """`keras.Model.compile`; "auto" is Adam(1e-4, global_clipnorm=1.0), as big_vision's PaliGemma transfers.

        The loss is always `compute_loss` (next-token cross-entropy); `loss` must be None.
        """
        if loss not in (None, "auto"):
            raise ValueError(f"{type(self).__name__} computes its own loss (next_token_xent); got loss={loss!r}.")
        if optimizer == "auto":
            optimizer = keras.optimizers.Adam(1e-4, beta_2=0.999, epsilon=1e-8, global_clipnorm=1.0)
        super().compile(optimizer=optimizer, loss=None, metrics=metrics, **kwargs)

    def get_compile_config(self):
        if getattr(self, "optimizer", None) is None:
            return None
        return {"optimizer": keras.optimizers.serialize(self.optimizer)}

    def compile_from_config(self, config):
        """Restores `compile()` after `.keras` loading (Keras skips it for a custom `compile`)."""
        if config:
            self.compile(optimizer=keras.optimizers.deserialize(config["optimizer"]))
            if self.built:
                self.optimizer.build(self.trainable_variables)

    def get_config(self):
        config = super().get_config()
        config.update({"label_smoothing": self.label_smoothing})
        return config
