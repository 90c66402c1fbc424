"""Evaluator predict functions for FlexiViT: run a model at a chosen patch size.

big_vision's flexi trainers expose `predict_seqhw=<s>`; here an evaluator config says
`pred="keras_vision.models.flexivit.flexivit_predict:predict_with_patch_size"` and
`pred_kw=dict(patch_size=p)` (or `"predict_patch_size"` once this module is imported).
"""

import weakref

from keras_vision.api_export import keras_vision_export

# model -> {patch_size: weight-sharing model}; weak so evaluators never keep models alive.
_CACHE = weakref.WeakKeyDictionary()


@keras_vision_export("keras_vision.models.flexivit.model_at_patch_size")
def model_at_patch_size(model, patch_size):
    """`model.with_patch_size(patch_size)`, cached per model (compiled once per size)."""
    if not hasattr(model, "with_patch_size"):
        raise TypeError(
            f"Patch-size evaluation needs a FlexiViT model (with `with_patch_size`), got {type(model).__name__}."
        )
    per_model = _CACHE.setdefault(model, {})
    key = patch_size if isinstance(patch_size, int) else tuple(patch_size)
    if key not in per_model:
        per_model[key] = model if _same(model.patch_size, key) else model.with_patch_size(key)
    return per_model[key]


def _same(a, b):
    a = (a, a) if isinstance(a, int) else tuple(a)
    b = (b, b) if isinstance(b, int) else tuple(b)
    return a == b


@keras_vision_export("keras_vision.models.flexivit.predict_with_patch_size")
def predict_with_patch_size(model, batch, patch_size, label_key="labels"):
    """The model's outputs on `batch` when run at `patch_size` (for evaluator `pred`)."""
    from keras_vision.evaluators import common

    m = model_at_patch_size(model, patch_size)
    return common.predict(m, common.model_inputs(batch, exclude=(label_key,)))


def _register():
    try:
        from keras_vision.evaluators.predict_fns import register_predict_fn
    except ImportError:  # evaluators are optional for model users
        return
    register_predict_fn("predict_patch_size")(predict_with_patch_size)


_register()
