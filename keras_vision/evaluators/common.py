"""Shared evaluator plumbing: eval data with `_mask` padding, model calls, `from_config`.

Evaluators see numpy batches of a fixed size (the last one padded with zeros and
`_mask == 0`), so a jit-compiled predict function is traced once per evaluator.
"""

import collections
import importlib
import inspect

import numpy as np

from keras_vision.api_export import keras_vision_export
from keras_vision.config import ConfigDict
from keras_vision.config import get_steps
from keras_vision.evaluators import registry

MASK_KEY = "_mask"

# Keys every evaluator config may hold that are consumed here, not by the evaluator.
GENERIC_KEYS = ("type", "prefix", "skip_first", "log_steps", "log_epochs", "log_examples", "log_percent")

EvalSpec = collections.namedtuple("EvalSpec", ["name", "evaluator", "log_steps", "prefix"])


class EvalData:
    """Iterable over padded numpy batches of a finite, ordered eval dataset.

    Args:
        data: a data config dict for `keras_vision.data.get_source`, a `tf.data.Dataset`
            of single examples, or a callable returning such a dataset.
        pp_fn: pp string applied to each example (None: examples are ready).
        batch_size: examples per batch; the last batch is padded to it.
        cache: "pipeline" (rebuild the tf.data iteration per run, little RAM) or
            "final_data" (keep every preprocessed batch in memory after the first run).
        num_examples: optional cap on the number of examples.
    """

    def __init__(self, data, pp_fn=None, batch_size=32, cache="pipeline", num_examples=None):
        if cache not in ("pipeline", "final_data", "none", None):
            raise ValueError(f"Unknown eval cache {cache!r}; expected 'pipeline', 'final_data' or 'none'.")
        self.data, self.pp_fn, self.batch_size = data, pp_fn, int(batch_size)
        self.cache, self.num_examples = cache, num_examples
        self._cached = None

    def _dataset(self):
        import tensorflow as tf

        data = self.data
        if callable(data) and not isinstance(data, (dict, tf.data.Dataset)):
            data = data()
        if not isinstance(data, tf.data.Dataset):
            from keras_vision.data import get_source

            data = get_source(data).as_dataset(shuffle=False, seed=0)
        if self.pp_fn:
            from keras_vision.data import get_preprocess_fn

            data = data.map(get_preprocess_fn(self.pp_fn), num_parallel_calls=tf.data.AUTOTUNE)
        if self.num_examples is not None:
            data = data.take(self.num_examples)
        return data.batch(self.batch_size).prefetch(2)

    def _iterate(self):
        for batch in self._dataset().as_numpy_iterator():
            yield pad_batch(batch, self.batch_size)

    def __iter__(self):
        if self.cache == "final_data":
            if self._cached is None:
                self._cached = list(self._iterate())
            return iter(self._cached)
        return self._iterate()


def pad_batch(batch, batch_size):
    """Pads every array of `batch` to `batch_size` rows and adds `_mask` (1 real, 0 pad)."""
    n = len(next(iter(batch.values())))
    out = {}
    for k, v in batch.items():
        v = np.asarray(v)
        if n < batch_size:
            pad = np.zeros((batch_size - n,) + v.shape[1:], v.dtype)
            v = np.concatenate([v, pad])
        out[k] = v
    mask = np.zeros(batch_size, np.float32)
    mask[:n] = 1.0
    out[MASK_KEY] = mask
    return out


def model_inputs(batch, exclude=()):
    """The model input of a batch: the image alone, or a dict of the remaining keys."""
    x = {k: v for k, v in batch.items() if k not in exclude and k != MASK_KEY}
    if set(x) == {"image"}:
        return x["image"]
    return x


def predict(model, x):
    """Runs the model in inference mode (jit-compiled through `predict_on_batch`)."""
    return model.predict_on_batch(x)


def logits_of(outputs):
    """Picks the logits out of a model's outputs (dict key "logits", else the first)."""
    if isinstance(outputs, dict):
        return outputs["logits"] if "logits" in outputs else next(iter(outputs.values()))
    if isinstance(outputs, (list, tuple)):
        return outputs[0]
    return outputs


def to_numpy(x):
    import keras

    return np.asarray(keras.ops.convert_to_numpy(x))


def resolve_predict_fn(pred, pred_kw=None):
    """A predict function from a callable, a registered name, or "module.path:function"."""
    from keras_vision.evaluators import predict_fns

    if pred is None:
        return None
    if callable(pred):
        fn = pred
    elif ":" in pred:
        module, _, attr = pred.partition(":")
        fn = getattr(importlib.import_module(module), attr)
    else:
        fn = predict_fns.get_predict_fn(pred)
    if pred_kw:
        return lambda model, batch: fn(model, batch, **pred_kw)
    return fn


@keras_vision_export("keras_vision.evaluators.from_config")
def from_config(config, *, total_steps=None, steps_per_epoch=None):
    """Builds the evaluators of `config.evals` (big_vision's `evaluators.common.from_config`).

    Each entry `config.evals[name]` holds `type` (default: the name), optional `prefix`
    (default "name/"), `log_steps` (or `_epochs`/`_examples`/`_percent`), `pred`/`pred_kw`
    (predict function) and the evaluator's own arguments; `batch_size` defaults to
    `config.batch_size_eval` or `config.input.batch_size`.

    Returns:
        A list of `EvalSpec(name, evaluator, log_steps, prefix)`.
    """
    config = ConfigDict(config)
    specs = []
    global_bs = config.get("batch_size_eval") or config.get("input.batch_size") or config.get("batch_size")
    for name, cfg in (config.get("evals") or {}).items():
        cfg = dict(cfg)
        cls = registry.get(cfg.get("type", name))
        prefix = cfg.get("prefix", f"{name}/")
        log_steps = get_steps(
            "log", cfg, total_steps=total_steps, steps_per_epoch=steps_per_epoch, batch_size=global_bs
        )
        kwargs = {k: v for k, v in cfg.items() if k not in GENERIC_KEYS}
        pred, pred_kw = kwargs.pop("pred", None), kwargs.pop("pred_kw", None)
        params = inspect.signature(cls.__init__).parameters
        accepts_any = any(p.kind == p.VAR_KEYWORD for p in params.values())
        if "batch_size" in params and "batch_size" not in kwargs and global_bs:
            kwargs["batch_size"] = global_bs
        if pred is not None:
            kwargs["predict_fn"] = resolve_predict_fn(pred, pred_kw)
        unknown = [k for k in kwargs if k not in params and not accepts_any]
        if unknown:
            accepted = [p for p in params if p != "self"]
            raise ValueError(
                f"Evaluator {name!r} (type {cls.__name__}) got unknown argument(s) {unknown}; "
                f"it accepts {accepted} plus {list(GENERIC_KEYS) + ['pred', 'pred_kw']}."
            )
        specs.append(EvalSpec(name, cls(**kwargs), log_steps, prefix))
    return specs
