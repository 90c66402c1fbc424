"""`model_at_patch_size`: a FlexiViT run at a chosen patch size, one weight-sharing copy per size.

Evaluators use it through the "predict_patch_size" predict function
(`keras_vision.evaluators.predict_fns`; config `pred="predict_patch_size"`,
`pred_kw=dict(patch_size=p)`), big_vision's `predict_seqhw=<s>`.
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
