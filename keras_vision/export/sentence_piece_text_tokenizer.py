"""In-graph SentencePiece tokenization with big_vision's `tokenize` semantics (sticky EOS)."""

import os

import tensorflow as tf

from keras_vision.api_export import keras_vision_export

EOS_MODES = ("none", "yes", "sticky")


def read_sentencepiece_model(model):
    """The serialized SentencePiece proto of `model`: bytes, a file path or an object
    with a `.proto` (keras_hub `SentencePieceTokenizer`)."""
    if isinstance(model, (bytes, bytearray)):
        return bytes(model)
    proto = getattr(model, "proto", None)
    if isinstance(proto, (bytes, bytearray)):
        return bytes(proto)
    if isinstance(proto, str):
        model = proto
    if isinstance(model, (str, os.PathLike)):
        if not os.path.isfile(model):
            raise FileNotFoundError(f"SentencePiece model file {str(model)!r} does not exist.")
        with open(model, "rb") as f:
            return f.read()
    raise TypeError(
        "A SentencePiece model must be bytes, a path to a .model file or a tokenizer with a "
        f"`.proto`; got {type(model).__name__}."
    )


class _EagerTokenizer:
    """Holds the tokenizer used in eager calls, out of sight of tf.Module tracking (not exported)."""

    def __init__(self, sp):
        self.sp = sp


@keras_vision_export("keras_vision.export.SentencePieceTextTokenizer")
class SentencePieceTextTokenizer(tf.Module):
    """Text -> fixed-length token ids in TensorFlow, as big_vision's `tokenize` pp op.

    `eos="sticky"` appends EOS and keeps it when truncating (`"aaa"`, max_len 3 ->
    `[a, a, </s>]`); `"yes"` appends it and lets truncation drop it; `"none"` adds
    none. Rows are padded with `pad_value`. Runs in tf.data and inside SavedModel
    signatures (the SentencePiece op comes from tensorflow_text, which TF Serving links).

    Args:
        model: SentencePiece model (bytes, path, or a tokenizer with `.proto`).
        max_len: length of every output row.
        eos: "sticky" (SigLIP/LiT), "yes" or "none".
        lower: lowercase the text first (big_vision's default).
        pad_value: int id, or a piece string such as "<pad>" looked up in the model.
        add_bos: prepend the BOS id.

    Example:
    >>> tok = SentencePieceTextTokenizer("spm.model", max_len=16, pad_value=1)
    >>> tok(tf.constant(["a photo of a cat"])).shape
    TensorShape([1, 16])

    Reference: `tokenize` in big_vision/pp/ops_text.py (SigLIP, 2303.15343).
    """

    def __init__(self, model, max_len, eos="sticky", lower=True, pad_value=0, add_bos=False, name=None):
        super().__init__(name=name)
        if eos not in EOS_MODES:
            raise ValueError(f"Unknown eos mode {eos!r}; expected one of {EOS_MODES}.")
        if int(max_len) < 1:
            raise ValueError(f"max_len must be >= 1, got {max_len!r}.")
        self.proto = read_sentencepiece_model(model)
        self.max_len, self.eos, self.lower, self.add_bos = int(max_len), eos, bool(lower), bool(add_bos)
        self.sp = self._new_sp()
        self._eager = _EagerTokenizer(self.sp)
        if isinstance(pad_value, str):
            pad_id = int(self.sp.string_to_id(pad_value))
            if self.sp.id_to_string(pad_id).numpy().decode() != pad_value:
                raise ValueError(f"pad_value piece {pad_value!r} is not in the SentencePiece model.")
            pad_value = pad_id
        self.pad_value = int(pad_value)
        self.vocab_size = int(self.sp.vocab_size())

    def _new_sp(self):
        import tensorflow_text

        return tensorflow_text.SentencepieceTokenizer(
            model=self.proto, add_eos=self.eos != "none", add_bos=self.add_bos
        )

    def config(self):
        """JSON-able settings (for manifests and preset preprocessing configs)."""
        return {
            "max_len": self.max_len, "eos": self.eos, "lower": self.lower,
            "pad_value": self.pad_value, "add_bos": self.add_bos, "vocab_size": self.vocab_size,
        }

    def __call__(self, texts):
        """tf.string [B] -> int32 [B, max_len]."""
        texts = tf.convert_to_tensor(texts, tf.string)
        if not tf.executing_eagerly():
            return self._tokenize(self.sp, texts)  # traced: the tracked resource goes into the graph
        try:
            return self._tokenize(self._eager.sp, texts)
        except tf.errors.NotFoundError:
            # tensorflow_text's SentencePiece resource is owned by the eager kernel cache, which
            # `tf.random.set_seed` (and so `keras.utils.set_random_seed`) clears: build a new one.
            self._eager.sp = self._new_sp()
            return self._tokenize(self._eager.sp, texts)

    def _tokenize(self, sp, texts):
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
