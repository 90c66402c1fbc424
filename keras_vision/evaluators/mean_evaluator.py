"""Mean of per-example metrics computed by a predict function (big_vision `mean`)."""

import numpy as np

from keras_vision.evaluators import common
from keras_vision.evaluators.evaluator import Evaluator
from keras_vision.evaluators.predict_fns import resolve_predict_fn
from keras_vision.evaluators.registry import register


@register("mean")
class MeanEvaluator(Evaluator):
    """Reports the mean over the eval set of each per-example metric of `predict_fn`.

    `predict_fn(model, batch)` returns {metric name: array of shape [batch_size]};
    padding rows (`_mask == 0`) are excluded from the means. In a recipe the function is
    named with `pred` ("per_example_accuracy", a name registered with
    `register_predict_fn`, or "my.module:function") and `pred_kw`.

    Args:
        data: data config for `keras_vision.data.get_source` (or a tf.data of examples).
        pp_fn: eval pp string.
        batch_size: eval batch size.
        predict_fn: the per-example metrics function (or its name).
        cache: see `EvalData`.

    Example:
    >>> ev = MeanEvaluator(dict(name="shapes", split="val"), pp, 32,
    ...                    predict_fn="per_example_accuracy")
    >>> dict(ev.run(model))  # {"accuracy": ...}
    """

    def __init__(self, data, pp_fn=None, batch_size=32, predict_fn="per_example_accuracy",
                 cache="pipeline", num_examples=None):
        self.data = common.EvalData(data, pp_fn, batch_size, cache=cache, num_examples=num_examples)
        self.predict_fn = resolve_predict_fn(predict_fn)

    def run(self, model):
        sums, count = {}, 0.0
        for batch in self.data:
            mask = np.asarray(batch[common.MASK_KEY], np.float64)
            metrics = self.predict_fn(model, batch)
            if not isinstance(metrics, dict):
                raise TypeError(f"predict_fn must return a dict of per-example metrics, got {type(metrics)}.")
            for name, value in metrics.items():
                value = common.to_numpy(value).astype(np.float64)
                if value.shape != mask.shape:
                    raise ValueError(
                        f"Expected per-example metrics of shape {mask.shape}; {name!r} has shape {value.shape}."
                    )
                sums[name] = sums.get(name, 0.0) + float(np.where(mask > 0, value, 0.0).sum())
            count += float(mask.sum())
        for name, total in sums.items():
            yield name, total / count
