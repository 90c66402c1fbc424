"""Shared evaluator plumbing: eval data with `_mask` padding and model calls.

Evaluators see numpy batches of a fixed size (the last one padded with zeros and
`_mask == 0`), so a jit-compiled predict function is traced once per evaluator.
"""

import keras
import numpy as np
import tensorflow as tf

from keras_vision.data import get_preprocess_fn
from keras_vision.data import get_source

MASK_KEY = "_mask"


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
        data = self.data
        if callable(data) and not isinstance(data, (dict, tf.data.Dataset)):
            data = data()
        if not isinstance(data, tf.data.Dataset):
            data = get_source(data).as_dataset(shuffle=False, seed=0)
        if self.pp_fn:
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
    return np.asarray(keras.ops.convert_to_numpy(x))
