"""Evaluators registered by big_vision type name; `run(model)` yields (name, value).

"classification" (prec@1, loss), "fewshot_lsr" (ridge-regression linear probes on frozen
features), "mean" (mean of per-example metrics of a predict function), "zeroshot" /
"discriminative_classifier" and "retrieval" (image-text), "proj.distill.distance"
(student-teacher agreement), "proj.paligemma.transfers.vqa" / "vqa" (VQA accuracy) and
"proj.paligemma.transfers.coco_caption" / "caption" (CIDEr, BLEU) of generating models. Each file registers its class; the imports below are the list.

Example:
>>> import keras_vision.evaluators as kve
>>> ev = kve.get("classification")(data=dict(name="shapes", split="val"), pp_fn=pp, batch_size=32)
>>> dict(ev.run(model))
"""

from keras_vision.evaluators.caption import CaptionEvaluator
from keras_vision.evaluators.caption import caption_scores
from keras_vision.evaluators.classification_evaluator import ClassificationEvaluator
from keras_vision.evaluators.common import EvalData
from keras_vision.evaluators.distill_distance import DistillDistanceEvaluator
from keras_vision.evaluators.eval_config import EvalSpec
from keras_vision.evaluators.eval_config import from_config
from keras_vision.evaluators.evaluator import Evaluator
from keras_vision.evaluators.evaluator_callback import EvaluatorCallback
from keras_vision.evaluators.fewshot_lsr_evaluator import FewShotLSREvaluator
from keras_vision.evaluators.mean_evaluator import MeanEvaluator
from keras_vision.evaluators.predict_fns import PREDICT_FNS
from keras_vision.evaluators.predict_fns import predict_with_patch_size
from keras_vision.evaluators.predict_fns import register_predict_fn
from keras_vision.evaluators.registry import EVALUATORS
from keras_vision.evaluators.registry import get
from keras_vision.evaluators.registry import known_types
from keras_vision.evaluators.registry import register
from keras_vision.evaluators.retrieval import RetrievalEvaluator
from keras_vision.evaluators.vqa import VQAEvaluator
from keras_vision.evaluators.zeroshot import ZeroShotEvaluator
