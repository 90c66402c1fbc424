"""In-graph SentencePiece tokenization with big_vision's `tokenize` semantics (sticky EOS).

The one tokenizer of keras_vision: the `tokenize` pp op (`keras_vision.data.ops_text`,
training and evaluation), the `embed_texts` / `zero_shot` signatures of exported
SavedModels and `keras_vision.presets.load_tokenizer` all run
`SentencePieceTextTokenizer`, so served token ids are the training ids by construction.
"""

import logging
import numbers
import os

import numpy as np
import tensorflow as tf
import tensorflow_text

from keras_vision.api_export import keras_vision_export

logger = logging.getLogger(__name__)

EOS_MODES = ("none", "yes", "sticky")
UNKNOWN_PAD = ("error", "unk")

# big_vision's short names; the files live on GCS, so they only work where it is reachable.
KNOWN_TOKENIZERS = {
    "mc4": "gs://t5-data/vocabs/mc4.250000.100extra/sentencepiece.model",
    "cc_all": "gs://t5-data/vocabs/cc_all.32000/sentencepiece.model",
    "c4_en": "gs://t5-data/vocabs/cc_en.32000/sentencepiece.model",
    "t5": "gs://t5-data/vocabs/cc_all.32000.100extra/sentencepiece.model",
    "mt5": "gs://t5-data/vocabs/mc4.250000.100extra/sentencepiece.model",
}


def read_model(model):
    """The serialized SentencePiece proto of `model`: bytes, a path (local or any
    `tf.io.gfile` file system), a big_vision name such as "c4_en", or an object with a
    `.proto` (e.g. a keras_hub `SentencePieceTokenizer`)."""
    if isinstance(model, (bytes, bytearray)):
        return bytes(model)
    proto = getattr(model, "proto", None)
    if isinstance(proto, (bytes, bytearray)):
        return bytes(proto)
    if isinstance(proto, str):
        model = proto
    if not isinstance(model, (str, os.PathLike)):
        raise TypeError(
            "A SentencePiece model must be bytes, a path to a .model file or a tokenizer with a "
            f"`.proto`; got {type(model).__name__}."
        )
    path = KNOWN_TOKENIZERS.get(str(model), str(model))
    try:
        with tf.io.gfile.GFile(path, "rb") as f:
            return f.read()
    except (tf.errors.OpError, OSError) as e:
        hint = f" (big_vision's {str(model)!r} = {path}, not reachable here)" if str(model) in KNOWN_TOKENIZERS else ""
        raise FileNotFoundError(
            f"SentencePiece model file {str(model)!r} does not exist or cannot be read{hint}; expected the "
            "path of a .model file (e.g. one made by keras_vision.data.train_sentencepiece)."
        ) from e


def _new_sentencepiece(proto, add_eos, add_bos):
    return tensorflow_text.SentencepieceTokenizer(model=proto, add_eos=add_eos, add_bos=add_bos)


class _EagerTokenizer:
    """Holds the tokenizer used in eager calls, out of sight of tf.Module tracking (not exported)."""

    def __init__(self, sp):
        self.sp = sp


@keras_vision_export("keras_vision.data.SentencePieceTextTokenizer")
class SentencePieceTextTokenizer(tf.Module):
    """Text -> fixed-length token ids in TensorFlow, as big_vision's `tokenize` pp op.

    `eos="sticky"` appends EOS and keeps it when truncating (`"aaa"`, max_len 3 ->
    `[a, a, </s>]`); `"yes"` appends it and lets truncation drop it; `"none"` adds
    none. Rows are padded with `pad_value`. Runs eagerly, in tf.data and inside
    SavedModel signatures (the SentencePiece op comes from tensorflow_text, which TF
    Serving links).

    Two ways to call it, which differ only in who owns the SentencePiece resource:
    `tok(texts)` uses the module's own (tracked, so a SavedModel saves it and re-creates
    it on load); `tok.in_graph(texts)` builds one inside the graph being traced (tf.data
    map functions), which TF's eager kernel-cache resets cannot reach.

    Args:
        model: SentencePiece model (bytes, path, big_vision name, or an object with `.proto`).
        max_len: length of every output row.
        eos: "sticky" (SigLIP/LiT), "yes" or "none".
        lower: lowercase (ASCII) the text first (big_vision's default).
        pad_value: int id, or a piece string such as "<pad>" looked up in the model.
        add_bos: prepend the BOS id.
        unknown_pad: a `pad_value` piece missing from the model is an "error", or
            (big_vision's `tokenize`) "unk": the unk id, with a warning.

    Example:
    >>> tok = SentencePieceTextTokenizer("spm.model", max_len=16, pad_value=1)
    >>> tok(tf.constant(["a photo of a cat"])).shape
    TensorShape([1, 16])

    Reference: `tokenize` in big_vision/pp/ops_text.py (SigLIP, 2303.15343).
    """

    def __init__(self, model, max_len, eos="sticky", lower=True, pad_value=0, add_bos=False, unknown_pad="error",
                 name=None):
        super().__init__(name=name)
        if eos not in EOS_MODES:
            raise ValueError(f"Unknown eos mode {eos!r}; expected one of {EOS_MODES}.")
        if isinstance(max_len, bool) or not isinstance(max_len, numbers.Integral) or max_len < 1:
            raise ValueError(f"max_len must be a positive int, got {max_len!r}.")
        if unknown_pad not in UNKNOWN_PAD:
            raise ValueError(f"Unknown unknown_pad {unknown_pad!r}; expected one of {UNKNOWN_PAD}.")
        self.proto = read_model(model)
        self.max_len, self.eos, self.lower, self.add_bos = int(max_len), eos, bool(lower), bool(add_bos)
        with tf.init_scope():  # the module's resource is eager even when built inside a graph
            self.sp = self._new_sp()
            self._eager = _EagerTokenizer(self.sp)
            self.vocab_size = int(self.sp.vocab_size())
            if isinstance(pad_value, str):
                pad_value = self._piece_id(pad_value, unknown_pad, model)
        self.pad_value = int(pad_value)

    def _new_sp(self):
        return _new_sentencepiece(self.proto, self.eos != "none", self.add_bos)

    def _piece_id(self, piece, unknown_pad, model):
        idx = int(self.sp.string_to_id(piece))
        if self.sp.id_to_string(idx).numpy().decode() == piece:
            return idx
        if unknown_pad == "error":
            raise ValueError(f"pad_value piece {piece!r} is not in the SentencePiece model.")
        logger.warning("SentencePiece model %s has no piece %r; using the unk id %d.", model, piece, idx)
        return idx

    def config(self):
        """JSON-able settings (for manifests and preset preprocessing configs)."""
        return {
            "max_len": self.max_len, "eos": self.eos, "lower": self.lower,
            "pad_value": self.pad_value, "add_bos": self.add_bos, "vocab_size": self.vocab_size,
        }

    def __call__(self, texts):
        """tf.string [B] -> int32 [B, max_len] (a scalar string -> [max_len])."""
        texts = tf.convert_to_tensor(texts, tf.string)
        if not tf.executing_eagerly():
            return self.tokenize_with(self.sp, texts)  # traced: the tracked resource goes into the graph
        try:
            return self.tokenize_with(self._eager.sp, texts)
        except tf.errors.NotFoundError:
            # tensorflow_text's SentencePiece resource is owned by the eager kernel cache, which
            # `tf.random.set_seed` (and so `keras.utils.set_random_seed`) clears: build a new one.
            self._eager.sp = self._new_sp()
            return self.tokenize_with(self._eager.sp, texts)

    def in_graph(self, texts):
        """As `__call__`, but a traced call builds its own SentencePiece resource in the
        graph (the graph owns it; the model is parsed once per graph instantiation)."""
        texts = tf.convert_to_tensor(texts, tf.string)
        if tf.executing_eagerly():
            return self(texts)
        return self.tokenize_with(self._new_sp(), texts)

    def tokenize_with(self, sp, texts):
        """Tokenizes a scalar or 1-D tf.string tensor with tensorflow_text tokenizer `sp`
        (built with this module's eos/bos settings) to int32 [..., max_len]."""
        if texts.shape.rank not in (0, 1):
            raise ValueError(f"Tokenization expects a string or a 1-D batch of strings, got shape {texts.shape}.")
        if texts.shape.rank == 0:
            return self.tokenize_with(sp, texts[None])[0]
        if self.lower:
            texts = tf.strings.lower(texts)
        tokens = sp.tokenize(texts)
        dense = tokens.to_tensor(default_value=self.pad_value, shape=[None, self.max_len])
        if self.eos == "sticky":
            # A row cut short loses its EOS: put the row's last token (its EOS) back at the end.
            lengths = tokens.row_lengths()
            last = tf.gather(tokens.flat_values, tf.maximum(tokens.row_limits() - 1, 0))
            cut = tf.logical_and(
                (lengths > self.max_len)[:, None],
                tf.equal(tf.range(self.max_len), self.max_len - 1)[None, :],
            )
            dense = tf.where(cut, tf.cast(last, dense.dtype)[:, None], dense)
        return tf.cast(dense, tf.int32)


def decode_ids(sp, token_ids, stop_token_ids=()):
    """Generated id rows -> strings with the Python SentencePiece library: each row cut before its first
    stop id (big_vision's `to_str(stop_at_eos=True)`), ids outside the vocabulary dropped.

    Args:
        sp: a `sentencepiece.SentencePieceProcessor`.
        token_ids: int array (B, N).
        stop_token_ids: ids that end a row (e.g. (EOS,)).

    Example:
    >>> decode_ids(sp, [[5, 9, 1, 0]], stop_token_ids=(1,))
    ['a red circle']
    """
    stops, texts = set(int(t) for t in stop_token_ids), []
    for row in np.asarray(token_ids).tolist():
        cut = next((i for i, t in enumerate(row) if t in stops), len(row))
        texts.append(sp.decode([t for t in row[:cut] if 0 <= t < sp.get_piece_size()]))
    return texts
