"""prec@1 and mean loss of a classifier over an eval set (big_vision `classification`)."""

import numpy as np

from keras_vision import losses
from keras_vision.evaluators import common
from keras_vision.evaluators.evaluator import Evaluator
from keras_vision.evaluators.registry import register


def per_example_loss(loss_name, logits, labels):
    """Per-example loss `loss_name` of keras_vision.losses (big_vision's reduction=False)."""
    fn = losses.get(loss_name)
    return common.to_numpy(fn(logits=logits, labels=labels, reduction=False))


@register("classification")
class ClassificationEvaluator(Evaluator):
    """Top-1 precision and loss of a classifier (big_vision `evaluators/classification.py`).

    prec@1 counts an example as correct when the label at the arg-max logit is positive,
    so multi-hot labels (ImageNet-ReaL) work; rows whose labels are all zero and padding
    rows (`_mask == 0`) are left out of both metrics. Integer labels are one-hot encoded.

    Args:
        data: data config for `keras_vision.data.get_source` (or a tf.data of examples).
        pp_fn: eval pp string producing "image" (model inputs) and `label_key`.
        batch_size: eval batch size.
        loss_name: keras_vision.losses name for the "loss" metric.
        label_key: key of the (one-hot / multi-hot) labels.
        predict_fn: optional `fn(model, batch) -> logits` (default: model outputs).
        cache: see `EvalData`.

    Example:
    >>> ev = ClassificationEvaluator(dict(name="shapes", split="val"),
    ...     "decode|value_range(-1,1)|onehot(10)|keep('image','labels')", 32)
    >>> dict(ev.run(model))  # {"prec@1": ..., "loss": ...}
    """

    def __init__(self, data, pp_fn=None, batch_size=32, loss_name="softmax_xent", label_key="labels",
                 predict_fn=None, cache="pipeline", num_examples=None):
        self.data = common.EvalData(data, pp_fn, batch_size, cache=cache, num_examples=num_examples)
        self.loss_name, self.label_key, self.predict_fn = loss_name, label_key, predict_fn

    def run(self, model):
        ncorrect, loss, nseen = 0.0, 0.0, 0.0
        for batch in self.data:
            labels = np.asarray(batch[self.label_key])
            mask = np.asarray(batch[common.MASK_KEY], np.float32)
            if self.predict_fn is not None:
                out = self.predict_fn(model, batch)
            else:
                out = common.predict(model, common.model_inputs(batch, exclude=(self.label_key,)))
            logits = common.to_numpy(common.logits_of(out)).astype(np.float32)
            if labels.ndim == 1:
                labels = np.eye(logits.shape[-1], dtype=np.float32)[labels]
            labels = labels.astype(np.float32)
            mask = mask * labels.max(axis=1)  # all-zero label rows are ignored
            losses = per_example_loss(self.loss_name, logits, labels)
            top1 = logits.argmax(axis=1)
            correct = np.take_along_axis(labels, top1[:, None], axis=1)[:, 0]
            ncorrect += float((correct * mask).sum())
            loss += float((np.asarray(losses) * mask).sum())
            nseen += float(mask.sum())
        if nseen == 0:
            raise ValueError("The classification eval data produced no labelled example.")
        yield "prec@1", ncorrect / nseen
        yield "loss", loss / nseen
