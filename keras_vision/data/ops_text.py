"""Text pp ops: SentencePiece `tokenize` (big_vision semantics, in-graph via
tensorflow_text, so it also runs inside exported SavedModels) and `lower`.

`tokenize(max_len, eos, model, lower, sample_if_multi, pad_value, add_bos)` pads or cuts
every text to `max_len` ids. With id("</s>")=1, id("a")=2, max_len=3:

| eos      | pad_value | "a"       | "aa"      | "aaa"     |
|----------|-----------|-----------|-----------|-----------|
| "none"   | 0         | [2, 0, 0] | [2, 2, 0] | [2, 2, 2] |
| "yes"    | 0         | [2, 1, 0] | [2, 2, 1] | [2, 2, 2] |
| "sticky" | 0         | [2, 1, 0] | [2, 2, 1] | [2, 2, 1] |
| "sticky" | 1         | [2, 1, 1] | [2, 2, 1] | [2, 2, 1] |

"sticky" keeps the EOS of cut texts; with pad_value = eos id (1 for big_vision's c4_en
and for `train_sentencepiece` vocabularies) the last position always holds EOS, which is
what SigLIP/LiT text towers pool. Differences from big_vision: `inkey` defaults to
"texts"; with `sample_if_multi=False` every text is padded on its own (big_vision pads a
dense [N, longest] tensor first, which drops the sticky EOS of long texts when
pad_value != eos).
"""

import logging

import tensorflow as tf

from keras_vision.data.registry import in_key_out_key
from keras_vision.data.registry import register

logger = logging.getLogger(__name__)

# big_vision's short names; the files live on GCS, so they only work where it is reachable.
KNOWN_TOKENIZERS = {
    "mc4": "gs://t5-data/vocabs/mc4.250000.100extra/sentencepiece.model",
    "cc_all": "gs://t5-data/vocabs/cc_all.32000/sentencepiece.model",
    "c4_en": "gs://t5-data/vocabs/cc_en.32000/sentencepiece.model",
    "t5": "gs://t5-data/vocabs/cc_all.32000.100extra/sentencepiece.model",
    "mt5": "gs://t5-data/vocabs/mc4.250000.100extra/sentencepiece.model",
}


def read_model(model):
    """Bytes of SentencePiece model `model` (a path, or a big_vision name)."""
    path = KNOWN_TOKENIZERS.get(model, model)
    try:
        with tf.io.gfile.GFile(str(path), "rb") as f:
            return f.read()
    except (tf.errors.OpError, OSError) as e:
        hint = f" (big_vision's {model!r} = {path}, not reachable here)" if model in KNOWN_TOKENIZERS else ""
        raise FileNotFoundError(
            f"Cannot read SentencePiece model {str(model)!r}{hint}; expected the path of a .model file "
            "(e.g. one made by keras_vision.data.train_sentencepiece)."
        ) from e


def piece_to_id(model, piece):
    """Id of `piece` in `model` (the unk id, with a warning, if the piece is unknown)."""
    import sentencepiece

    sp = sentencepiece.SentencePieceProcessor(model_proto=read_model(model))
    idx = sp.piece_to_id(piece)
    if idx == sp.unk_id() and piece != sp.id_to_piece(sp.unk_id()):
        logger.warning("SentencePiece model %s has no piece %r; using the unk id %d.", model, piece, idx)
    return idx


def _pad_or_cut(tokens, max_len, pad_value, sticky_eos):
    """1-D tokens -> exactly max_len tokens (keeping the last one when cut, if sticky)."""
    n = tf.shape(tokens)[0]
    if sticky_eos:
        cut = tf.concat([tokens[: max_len - 1], tokens[-1:]], axis=0)
    else:
        cut = tokens[:max_len]
    padded = tf.pad(tokens, [(0, tf.maximum(max_len - n, 0))], constant_values=pad_value)
    out = tf.cond(n >= max_len, lambda: cut[:max_len], lambda: padded)
    return tf.ensure_shape(out, [max_len])


def tokenize_texts(texts, tokenizer, max_len, *, pad_value, sticky_eos):
    """Tokenizes a scalar or 1-D tf.string tensor to int32 [..., max_len]."""
    tokens = tokenizer.tokenize(texts)
    if texts.shape.rank == 0:
        return _pad_or_cut(tokens, max_len, pad_value, sticky_eos)
    return tf.map_fn(
        lambda t: _pad_or_cut(t, max_len, pad_value, sticky_eos),
        tokens,
        fn_output_signature=tf.TensorSpec([max_len], tokens.dtype),
    )


def _tokenizer(model, add_eos, add_bos):
    # Built where it is used (inside the tf.data / tf.function graph), not once eagerly:
    # an eager SentencePiece resource dies with TF's kernel cache, which
    # `tf.random.set_seed` / `keras.utils.set_random_seed` clear. In a graph the op owns
    # its resource (the model is parsed once per graph instantiation).
    import tensorflow_text

    return tensorflow_text.SentencepieceTokenizer(model=read_model(model), add_eos=add_eos, add_bos=add_bos)


@register("tokenize")
@in_key_out_key(indefault="texts", outdefault="labels", with_rng=True)
def get_tokenize(
    max_len, eos="none", model="c4_en", lower=True, sample_if_multi=True, pad_value="<pad>", add_bos=False
):
    """Tokenizes text with a SentencePiece model into `max_len` int32 ids.

    Args:
        max_len: output length.
        eos: "none" (no EOS), "yes" (append EOS, cut like any token) or "sticky"
            (append EOS and keep it when cutting). See the module table.
        model: path of a SentencePiece .model file (or a big_vision name like "c4_en",
            which only works where GCS is reachable).
        lower: lowercase (ASCII) before tokenizing.
        sample_if_multi: for a list of texts, pick one at random (big_vision); False
            tokenizes all of them into [N, max_len].
        pad_value: id to pad with, or a piece whose id is used ("<pad>").
        add_bos: prepend the BOS id.
    """
    if eos not in ("none", "yes", "sticky"):
        raise ValueError(f"tokenize: eos must be 'none', 'yes' or 'sticky', got {eos!r}.")
    if not isinstance(max_len, int) or max_len < 1:
        raise ValueError(f"tokenize: max_len must be a positive int, got {max_len!r}.")
    model = str(model)
    read_model(model)  # fail now, naming the file, rather than inside tf.data
    if isinstance(pad_value, str):
        pad_value = piece_to_id(model, pad_value)

    def _tokenize(texts, seed):
        texts = tf.convert_to_tensor(texts, tf.string)
        if texts.shape.rank is None or texts.shape.rank > 1:
            raise ValueError(f"tokenize expects a string or a 1-D list of strings, got shape {texts.shape}.")
        if sample_if_multi and texts.shape.rank == 1:
            texts = tf.cond(tf.size(texts) > 0, lambda: texts, lambda: tf.constant([""]))
            texts = texts[tf.random.stateless_uniform([], seed, 0, tf.shape(texts)[0], dtype=tf.int32)]
        if lower:
            texts = tf.strings.lower(texts)
        tokenizer = _tokenizer(model, eos != "none", bool(add_bos))
        return tokenize_texts(texts, tokenizer, max_len, pad_value=pad_value, sticky_eos=eos == "sticky")

    return _tokenize


@register("lower")
@in_key_out_key(indefault="text", outdefault="text")
def get_lower():
    """Lowercases (ASCII) a string tensor."""
    return tf.strings.lower
