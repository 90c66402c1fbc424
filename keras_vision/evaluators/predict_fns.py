"""Named predict functions `fn(model, batch) -> outputs` that evaluator configs select with `pred`.

big_vision evaluators take a `predict_fn` picked by name from the trainer; here a config
says `pred="name"` (registered below or with `register_predict_fn`) or
`pred="my.module:function"`, and `pred_kw` binds keyword arguments.
"""

import importlib

import numpy as np

from keras_vision.api_export import keras_vision_export
from keras_vision.evaluators import common
from keras_vision.models.flexivit import model_at_patch_size
from keras_vision.registry import Registry

PREDICT_FNS = Registry("predict function")


@keras_vision_export("keras_vision.evaluators.register_predict_fn")
def register_predict_fn(name):
    """Decorator registering `fn(model, batch, **kw)` as the predict function `name`."""
    return PREDICT_FNS.register(name)


def get_predict_fn(name):
    if name not in PREDICT_FNS:
        raise ValueError(f"Unknown predict function {name!r}; known: {PREDICT_FNS.names()} "
                         "(or give 'module.path:function').")
    return PREDICT_FNS.get(name)


def resolve_predict_fn(pred, pred_kw=None):
    """A predict function from a callable, a registered name, or "module.path:function"."""
    if pred is None:
        return None
    if callable(pred):
        fn = pred
    elif ":" in pred:
        module, _, attr = pred.partition(":")
        fn = getattr(importlib.import_module(module), attr)
    else:
        fn = get_predict_fn(pred)
    if pred_kw:
        return lambda model, batch: fn(model, batch, **pred_kw)
    return fn


@register_predict_fn("predict")
def predict(model, batch, label_key="labels"):
    """The model's raw outputs on the batch's inputs (labels and `_mask` removed)."""
    return common.predict(model, common.model_inputs(batch, exclude=(label_key,)))


@register_predict_fn("per_example_accuracy")
def per_example_accuracy(model, batch, label_key="labels"):
    """{"accuracy": 1.0 where argmax(logits) hits a positive label} per example (for "mean")."""
    logits = common.to_numpy(common.logits_of(predict(model, batch, label_key)))
    labels = np.asarray(batch[label_key])
    top1 = logits.argmax(-1)
    if labels.ndim == 1:
        hit = top1 == labels
    else:
        hit = np.take_along_axis(labels, top1[:, None], axis=1)[:, 0] > 0
    return {"accuracy": hit.astype(np.float32)}


@register_predict_fn("predict_patch_size")
@keras_vision_export("keras_vision.evaluators.predict_with_patch_size")
def predict_with_patch_size(model, batch, patch_size, label_key="labels"):
    """The outputs of a FlexiViT `model` on `batch` when run at `patch_size` (big_vision's `predict_seqhw`)."""
    m = model_at_patch_size(model, patch_size)
    return common.predict(m, common.model_inputs(batch, exclude=(label_key,)))
