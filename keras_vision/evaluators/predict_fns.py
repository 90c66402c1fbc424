"""Named predict functions `fn(model, batch) -> outputs` that evaluator configs select with `pred`.

big_vision evaluators take a `predict_fn` picked by name from the trainer; here a config
says `pred="name"` (registered below or with `register_predict_fn`) or
`pred="my.module:function"`, and `pred_kw` binds keyword arguments.
"""

import numpy as np

from keras_vision.api_export import keras_vision_export
from keras_vision.evaluators import common

_PREDICT_FNS = {}


@keras_vision_export("keras_vision.evaluators.register_predict_fn")
def register_predict_fn(name):
    """Decorator registering `fn(model, batch, **kw)` as the predict function `name`."""

    def decorator(fn):
        _PREDICT_FNS[name] = fn
        return fn

    return decorator


def get_predict_fn(name):
    if name not in _PREDICT_FNS:
        raise ValueError(f"Unknown predict function {name!r}; known: {sorted(_PREDICT_FNS)} "
                         "(or give 'module.path:function').")
    return _PREDICT_FNS[name]


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
