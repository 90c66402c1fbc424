"""Shared by the generating evaluators (VQA, captioning): eval data, `generate`, detokenization, outputs."""

import json
import pathlib

import numpy as np
import sentencepiece
import tensorflow as tf
from matplotlib.figure import Figure

from keras_vision.data import get_source
from keras_vision.data.sentencepiece_tokenizer import decode_ids
from keras_vision.data.sentencepiece_tokenizer import read_model
from keras_vision.evaluators import common

# The batch keys `generate` reads: PaliGemma's prompt (big_vision's eval pp keeps these).
PROMPT_KEYS = ("image", "text", "mask_ar", "mask_input")


def exploded(data, keys, index_key="question_index"):
    """A dataset fn: one example per entry of the list features `keys` (e.g. questions, answers).

    Every other feature is repeated; `index_key` holds the entry's index in its list
    (the shapes world's question kind is `index % 6`).
    """
    keys = tuple(keys)

    def explode(example):
        n = tf.shape(example[keys[0]])[0]
        rest = {k: v for k, v in example.items() if k not in keys}
        per_entry = {k: example[k] for k in keys}
        per_entry[index_key] = tf.range(n, dtype=tf.int32)
        repeated = {k: tf.repeat(tf.expand_dims(v, 0), n, axis=0) for k, v in rest.items()}
        return tf.data.Dataset.from_tensor_slices({**repeated, **per_entry})

    def dataset():
        source = data if isinstance(data, tf.data.Dataset) else get_source(dict(data)).as_dataset(shuffle=False, seed=0)
        return source.flat_map(explode)

    return dataset


class TextDecoder:
    """SentencePiece ids -> strings, cut at the first EOS (big_vision `to_str(stop_at_eos=True)`)."""

    def __init__(self, model):
        self.sp = sentencepiece.SentencePieceProcessor(model_proto=read_model(model))
        self.eos_id = self.sp.eos_id()

    def __call__(self, tokens):
        return decode_ids(self.sp, tokens, (self.eos_id,))


class GeneratingEvaluator:
    """Eval batches -> (batch, generated texts) for the real examples, via the model's `generate`."""

    def __init__(self, data, pp_fn, tokenizer, batch_size, max_decode_len, sampler, explode, cache,
                 prompt_keys=PROMPT_KEYS):
        if explode:
            data = exploded(data, explode)
        self.data = common.EvalData(data, pp_fn, batch_size, cache=cache)
        self.tokenizer, self._decoder = tokenizer, None
        self.max_decode_len, self.sampler = int(max_decode_len), sampler
        self.prompt_keys = tuple(prompt_keys or PROMPT_KEYS)

    @property
    def decoder(self):
        # Read on first use: a recipe's vocabulary is trained at the start of the run.
        if self._decoder is None:
            self._decoder = TextDecoder(self.tokenizer)
        return self._decoder

    def decoded(self, model):
        if not hasattr(model, "generate"):
            raise ValueError(f"{type(self).__name__} needs a model with `generate`, got {type(model).__name__}.")
        for batch in self.data:
            missing = [k for k in self.prompt_keys if k not in batch]
            if missing:
                raise ValueError(f"{type(self).__name__}: the eval pp must keep {self.prompt_keys}; missing {missing} "
                                 f"(batch keys {sorted(batch)}).")
            tokens = model.generate({k: batch[k] for k in self.prompt_keys}, max_new_tokens=self.max_decode_len,
                                    sampler=self.sampler, stop_token_ids=(self.decoder.eos_id,))
            real = np.asarray(batch[common.MASK_KEY]) > 0
            texts = self.decoder(tokens)
            yield {k: np.asarray(v)[real] for k, v in batch.items()}, [t for t, r in zip(texts, real) if r]


def as_text(value):
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def write_predictions(outfile, records):
    """Writes the per-example predictions as JSON (next to the metrics when outfile is in the workdir)."""
    if not outfile:
        return
    path = pathlib.Path(outfile)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(records, indent=1))
    tmp.replace(path)


def save_picture(path, images, texts, columns=4):
    """A grid of the first images (in [-1, 1] or [0, 1]) titled with their generated texts, as a PNG."""
    if not path or not len(images):
        return
    images = np.asarray(images, np.float32)
    if images.min() < 0:
        images = (images + 1.0) / 2.0
    rows = -(-len(images) // columns)
    fig = Figure(figsize=(3 * columns, 3.2 * rows))
    for i, (image, text) in enumerate(zip(images, texts)):
        ax = fig.add_subplot(rows, columns, i + 1)
        ax.imshow(np.clip(image, 0.0, 1.0))
        ax.set_title("\n".join(text[k : k + 32] for k in range(0, max(len(text), 1), 32)), fontsize=8)
        ax.axis("off")
    pathlib.Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
