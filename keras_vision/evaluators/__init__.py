"""Evaluators registered by big_vision type name; `run(model)` yields (name, value).

Built in: "classification" (prec@1, loss), "fewshot_lsr" (ridge-regression linear
probes on frozen features), "mean" (mean of per-example metrics of a predict function).
Other families register theirs in their own files here (e.g. "zeroshot", "retrieval");
`get(type)` finds them without a central list.

Example:
>>> import keras_vision.evaluators as kve
>>> ev = kve.get("classification")(data=dict(name="shapes", split="val"), pp_fn=pp, batch_size=32)
>>> dict(ev.run(model))
"""

from keras_vision.evaluators.classification_evaluator import ClassificationEvaluator
from keras_vision.evaluators.common import EvalData
from keras_vision.evaluators.common import EvalSpec
from keras_vision.evaluators.common import from_config
from keras_vision.evaluators.evaluator import Evaluator
from keras_vision.evaluators.evaluator_callback import EvaluatorCallback
from keras_vision.evaluators.fewshot_lsr_evaluator import FewShotLSREvaluator
from keras_vision.evaluators.mean_evaluator import MeanEvaluator
from keras_vision.evaluators.predict_fns import register_predict_fn
from keras_vision.evaluators.registry import get
from keras_vision.evaluators.registry import known_types
from keras_vision.evaluators.registry import register


def __getattr__(name):
    # Classes added by other families' files (e.g. ZeroShotEvaluator) become reachable
    # as keras_vision.evaluators.<Name> once their modules are imported.
    from keras_vision.api_export import PUBLIC_API
    from keras_vision.evaluators import registry

    registry._import_all()
    symbol = PUBLIC_API.get(f"keras_vision.evaluators.{name}")
    if symbol is None:
        raise AttributeError(f"module 'keras_vision.evaluators' has no attribute {name!r}")
    return symbol
