"""Text pp ops: SentencePiece `tokenize` (big_vision semantics, in-graph via
tensorflow_text; the tokenization itself is `SentencePieceTextTokenizer`, which exported
SavedModels run too) and `lower`.

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

import inspect

import tensorflow as tf

from keras_vision.data.builder import parse_pp
from keras_vision.data.registry import in_key_out_key
from keras_vision.data.registry import register
from keras_vision.data.sentencepiece_tokenizer import SentencePieceTextTokenizer

# Arguments of `tokenize` that are about the example dict, not about the tokenization.
_DATA_ARGS = ("sample_if_multi", "key", "inkey", "outkey")


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
        pad_value: id to pad with, or a piece whose id is used ("<pad>"; the unk id,
            with a warning, when the model has no such piece, as in big_vision).
        add_bos: prepend the BOS id.
    """
    # Built now, so a missing model file fails here, naming the file, rather than inside tf.data.
    tokenizer = SentencePieceTextTokenizer(
        str(model), max_len, eos=eos, lower=lower, pad_value=pad_value, add_bos=add_bos, unknown_pad="unk"
    )

    def _tokenize(texts, seed):
        texts = tf.convert_to_tensor(texts, tf.string)
        if texts.shape.rank is None or texts.shape.rank > 1:
            raise ValueError(f"tokenize expects a string or a 1-D list of strings, got shape {texts.shape}.")
        if sample_if_multi and texts.shape.rank == 1:
            texts = tf.cond(tf.size(texts) > 0, lambda: texts, lambda: tf.constant([""]))
            texts = texts[tf.random.stateless_uniform([], seed, 0, tf.shape(texts)[0], dtype=tf.int32)]
        return tokenizer.in_graph(texts)

    return _tokenize


def tokenize_settings(text_pp):
    """The tokenization settings of the `tokenize(...)` op of pp string `text_pp`.

    Returns {"max_len", "eos", "model", "lower", "pad_value", "add_bos"}: what the op
    gives, its defaults filled in for what the pp does not say, so a tokenizer built
    from them (`SentencePieceTextTokenizer(settings.pop("model"), **settings)`) gives
    the ids of the training pipeline. Raises ValueError without a tokenize op.

    Example:
    >>> tokenize_settings("tokenize(16, model='spm.model', eos='sticky', inkey='texts')")["eos"]
    'sticky'
    """
    for op in parse_pp(text_pp):
        if op.name != "tokenize":
            continue
        try:
            bound = inspect.signature(get_tokenize).bind(*op.args, **op.kwargs)
        except TypeError as e:
            raise ValueError(f"Bad pp op {op.text!r}: {e}.") from None
        bound.apply_defaults()
        return {k: v for k, v in bound.arguments.items() if k not in _DATA_ARGS}
    raise ValueError(f"No tokenize(...) op in the text pp {text_pp!r}.")


@register("lower")
@in_key_out_key(indefault="text", outdefault="text")
def get_lower():
    """Lowercases (ASCII) a string tensor."""
    return tf.strings.lower
