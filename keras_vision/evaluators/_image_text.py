"""Shared plumbing of the image-text evaluators (zero-shot, retrieval): eval data,
tokenization with the recipe's pp string, batched jit-compiled encoding."""

import numpy as np
import tensorflow as tf

from keras_vision import data as kv_data
from keras_vision.evaluators import common
from keras_vision.evaluators.evaluator import Evaluator


def embed(model, key, x):
    """L2-normalised embeddings of one batch: `key` "image" -> zimg, "labels" -> ztxt.

    Uses `model.predict_on_batch` (jit-compiled once per batch shape) on a
    two-tower model whose call takes {"image"} / {"labels"}, and falls back to
    `encode_image` / `encode_text` for other models.
    """
    out_key = "zimg" if key == "image" else "ztxt"
    try:
        out = model.predict_on_batch({key: x})
    except (TypeError, KeyError, ValueError):
        out = None
    if isinstance(out, dict) and out.get(out_key) is not None:
        return common.to_numpy(out[out_key]).astype(np.float32)
    fn = model.encode_image if key == "image" else model.encode_text
    return common.to_numpy(fn(x)).astype(np.float32)


class ImageTextEvaluator(Evaluator):
    """Base of evaluators that embed images and texts with a two-tower model.

    The model must map {"image": images} to {"zimg": ...} and {"labels": token ids}
    to {"ztxt": ...} (as `keras_vision.models.TwoTowerModel` does), or provide
    `encode_image(images)` / `encode_text(token_ids)`.

    Args:
        data: data config for `keras_vision.data.get_source` (or a tf.data of examples).
        pp_img: pp string producing "image" from an example (other keys are kept aside).
        pp_txt: pp string mapping {"texts": string} to {"labels": token ids}.
        texts_key: example field with the caption(s).
        label_key: example field with the class label.
        batch_size: encoding batch size (batches are padded to it: one compilation).
        num_examples: optional cap on the number of examples read.
        cache: "pipeline" or "final_data" (see `keras_vision.evaluators.common.EvalData`).
    """

    def __init__(
        self,
        data=None,
        pp_img="value_range(-1, 1)",
        pp_txt=None,
        texts_key="texts",
        label_key="label",
        batch_size=64,
        num_examples=None,
        cache="pipeline",
    ):
        if data is None:
            raise ValueError(f"{type(self).__name__} needs a `data` config.")
        self.data = data
        self.pp_img = pp_img
        self.pp_txt = pp_txt
        self.texts_key = texts_key
        self.label_key = label_key
        self.batch_size = int(batch_size)
        self.num_examples = num_examples
        self._eval_data = common.EvalData(
            self._examples, None, self.batch_size, cache=cache, num_examples=num_examples
        )
        self._token_cache = {}

    # --- data -----------------------------------------------------------------------
    def _examples(self):
        ds = self.data
        if not isinstance(ds, tf.data.Dataset):
            ds = kv_data.get_source(dict(ds)).as_dataset(shuffle=False, seed=0)
        pp = kv_data.get_preprocess_fn(self.pp_img) if self.pp_img else (lambda ex: ex)
        texts_key, label_key = self.texts_key, self.label_key

        def fn(ex):
            out = {"image": pp(dict(ex))["image"]}
            if texts_key in ex:
                texts = ex[texts_key]
                out["texts"] = texts if texts.shape.rank else tf.reshape(texts, [1])
            if label_key in ex:
                out["label"] = ex[label_key]
            return out

        return ds.map(fn, num_parallel_calls=tf.data.AUTOTUNE)

    def load_examples(self, model):
        """Embeds every image; returns `(zimg (N, D), texts [[str]] or [], labels or None)`."""
        feats, texts, labels = [], [], []
        for batch in self._eval_data:
            n = int(batch[common.MASK_KEY].sum())
            feats.append(embed(model, "image", batch["image"])[:n])
            if "texts" in batch:
                texts.extend([[_decode(s) for s in row] for row in batch["texts"][:n]])
            if "label" in batch:
                labels.append(np.asarray(batch["label"])[:n])
        zimg = np.concatenate(feats) if feats else np.zeros((0, 0), np.float32)
        return zimg, texts, (np.concatenate(labels) if labels else None)

    # --- texts ----------------------------------------------------------------------
    def tokenize(self, strings):
        """Token ids of a list of strings through `pp_txt` ({"texts"} -> {"labels"})."""
        if not self.pp_txt:
            raise ValueError(f"{type(self).__name__} needs `pp_txt` to tokenize texts.")
        pp = kv_data.get_preprocess_fn(self.pp_txt)
        ds = tf.data.Dataset.from_tensor_slices({"texts": tf.constant(list(strings))})
        ds = ds.map(lambda ex: {"labels": pp(ex)["labels"]}).batch(1024)
        return np.concatenate([b["labels"] for b in ds.as_numpy_iterator()])

    def encode_texts(self, model, strings):
        """L2-normalised embeddings of a list of strings (batched and padded)."""
        strings = list(strings)
        if not strings:
            return np.zeros((0, 0), np.float32)
        tokens = self.tokenize(strings)
        out = []
        for i in range(0, len(tokens), self.batch_size):
            chunk = common.pad_batch({"labels": tokens[i : i + self.batch_size]}, self.batch_size)
            out.append(embed(model, "labels", chunk["labels"])[: len(tokens[i : i + self.batch_size])])
        return np.concatenate(out)


def _decode(s):
    return s.decode("utf-8") if isinstance(s, bytes) else str(s)
