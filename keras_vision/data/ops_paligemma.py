"""PaliGemma pp ops with big_vision's names, so PaliGemma transfer configs' pp strings paste across.

New here: `tok` (SentencePiece to variable-length ids), `tolen` (cut or pad to a length),
`masked_concat` (join token keys and build per-token masks), `strfmt`, `strjoin`,
`majority`, `getidx` and `choice_no_replacement`. The chains also use `copy`,
`setdefault`, `choice`, `flatten` and `keep`, which live in `ops_general`.

A PaliGemma example is `[prefix, separator, suffix]`. In training (`mask_ar=[0, 0, 1]`,
`mask_loss=[0, 0, 1]`) the prefix and separator are attended to in full, the suffix is
causal and is the only part scored; `tolen` then pads `text` with any id, `mask_ar`
with 1 and `mask_loss` with 0. With prefix ids [2, 7], separator [5] and suffix [9, 1],
length 7: text [2, 7, 5, 9, 1, 0, 0], mask_ar [0, 0, 0, 1, 1, 1, 1],
mask_loss [0, 0, 0, 1, 1, 0, 0].

Tokenizers: big_vision names its tokenizer, e.g. `model='gemma(tokensets=("loc", "seg"))'`,
and fetches it from GCS. Here `model` is the path of a local SentencePiece .model file;
`register_tokenizer_file(name, path)` maps a big_vision name to a file, so pp strings can
keep the name.

Differences from big_vision: a model that lacks a piece the op needs (BOS for
`bos="yes"`, EOS, pad for `tok(length=...)`) is an error here (big_vision would write
id -1); `tolen` needs `pad_value` or `pad_key` when the op is built (big_vision checks
per example); `choice_no_replacement` is `choice(n="single")` with the per-example seed,
i.e. a fresh random pick every epoch (big_vision cycles through the entries of each
`_id`, using a host-side counter that is lost on a restart); missing keys raise
ValueError; `strjoin`/`majority` need an explicit `key`/`inkey`.
"""

import numbers
import re
import string

import sentencepiece
import tensorflow as tf

from keras_vision.data.ops_general import get_choice
from keras_vision.data.registry import RNG_KEY
from keras_vision.data.registry import register
from keras_vision.data.sentencepiece_tokenizer import KNOWN_TOKENIZERS
from keras_vision.data.sentencepiece_tokenizer import SentencePieceTextTokenizer
from keras_vision.data.sentencepiece_tokenizer import read_model

BOS_MODES = ("no", "yes")
EOS_MODES = ("no", "yes", "sticky")

# big_vision tokenizer names (e.g. 'gemma(tokensets=("loc", "seg"))') -> local .model files.
TOKENIZER_FILES = {}

# What a big_vision tokenizer spec looks like: a registry name, optionally with arguments.
_TOKENIZER_NAME = re.compile(r"[A-Za-z_]\w*(\(.*\))?", re.DOTALL)


def register_tokenizer_file(name, path):
    """Makes `tok(model=name)` read the SentencePiece file `path`.

    Args:
        name: the tokenizer as a big_vision config names it.
        path: a local (or `tf.io.gfile`) SentencePiece .model file.

    Example:
    >>> register_tokenizer_file('gemma(tokensets=("loc", "seg"))', "paligemma_tokenizer.model")
    """
    TOKENIZER_FILES[str(name)] = str(path)


def _resolve_model(model):
    """The SentencePiece file of `tok`'s `model`: a registered name, or the value itself."""
    if not isinstance(model, str):
        return model
    if model in TOKENIZER_FILES:
        return TOKENIZER_FILES[model]
    is_name = _TOKENIZER_NAME.fullmatch(model) and model not in KNOWN_TOKENIZERS
    if is_name and not tf.io.gfile.exists(model):
        raise ValueError(
            f"tok: model={model!r} is a big_vision tokenizer name, which cannot be downloaded here; a local "
            "SentencePiece file is needed. Pass model='/path/to/tokenizer.model' (for PaliGemma: a Gemma "
            "tokenizer that has the <locNNNN>/<segNNN> pieces), or keep the name and call "
            f"keras_vision.data.ops_paligemma.register_tokenizer_file({model!r}, '/path/to/tokenizer.model')."
        )
    return model


def _get(data, key, op_name):
    """data[key], or a ValueError naming the op, the key and the keys the example has."""
    if key not in data:
        have = sorted(k for k in data if k != RNG_KEY)
        raise ValueError(f"pp op {op_name!r}: the example has no key {key!r}; it has {have}.")
    return data[key]


def _keys(op_name, key, inkey, outkey):
    src, dst = inkey or key, outkey or key or inkey
    if src is None:
        raise ValueError(f"pp op {op_name!r} needs `key` or `inkey` (which input to read).")
    return src, dst


def _check_length(length, op_name, allow_none=True):
    if length is None and allow_none:
        return
    if isinstance(length, bool) or not isinstance(length, numbers.Integral) or length < 1:
        raise ValueError(f"pp op {op_name!r}: length must be a positive int, got {length!r}.")


def fit_length(x, length, sticky_end=False, pad_value=0):
    """Cuts or pads `x` along axis 0 to `length` (a static int).

    Args:
        x: a tensor of rank >= 1.
        length: the output length.
        sticky_end: when cutting, keep the last entry (e.g. EOS) as the last one.
        pad_value: value (python number or scalar tensor) appended when `x` is short.

    Example:
    >>> fit_length(tf.constant([4, 5, 6, 1]), 3, sticky_end=True).numpy().tolist()
    [4, 5, 1]
    """
    x = tf.convert_to_tensor(x)
    if x.shape.rank is None or x.shape.rank < 1:
        raise ValueError(f"Cutting/padding to length {length} needs a tensor of rank >= 1, got shape {x.shape}.")
    n = tf.shape(x)[0]

    def cut():
        return tf.concat([x[: length - 1], x[-1:]], axis=0) if sticky_end else x[:length]

    def pad():
        paddings = [[0, length - n]] + [[0, 0]] * (x.shape.rank - 1)
        return tf.pad(x, paddings, constant_values=tf.cast(pad_value, x.dtype))

    out = tf.cond(n >= length, cut, pad)
    out.set_shape([length] + x.shape.as_list()[1:])
    return out


class _VariableLengthTokenizer(SentencePieceTextTokenizer):
    """`SentencePieceTextTokenizer` that gives one string's ids at their own length (no lowercasing)."""

    def __init__(self, model, add_bos, add_eos):
        super().__init__(model, max_len=1, eos="yes" if add_eos else "none", lower=False, add_bos=add_bos)

    def tokenize_with(self, sp, texts):
        if texts.shape.rank != 0:
            raise ValueError(f"tok tokenizes a single string, got shape {texts.shape}.")
        return tf.cast(sp.tokenize(tf.reshape(texts, [1])).flat_values, tf.int32)


@register("tok")
def get_tok(model, length=None, *, bos="no", eos="no", text=None, key=None, inkey=None, outkey=None):
    """Tokenizes a string (or the constant `text`) into int32 SentencePiece ids.

    Without `length` the ids keep their own length; with it they are cut (keeping EOS
    when `eos="sticky"`) or padded with the model's pad id. Text is not lowercased.

    Args:
        model: path of a SentencePiece .model file, or a name given to
            `register_tokenizer_file`.
        length: optional output length.
        bos: "yes" prepends the BOS id, "no" does not.
        eos: "yes" appends the EOS id, "sticky" too and keeps it when cutting, "no" not.
        text: a constant string to tokenize once, at build time, instead of an input key.
        key, inkey, outkey: input / output keys (`key` sets both).

    Example:
    >>> fn = get_preprocess_fn("tok(key='prefix', bos='yes', model='spm.model')")
    >>> fn({"prefix": "caption en"})["prefix"]  # [bos, ids of "caption en"...]
    """
    if bos not in BOS_MODES:
        raise ValueError(f"tok: bos={bos!r}; expected one of {BOS_MODES}.")
    if eos not in EOS_MODES:
        raise ValueError(f"tok: eos={eos!r}; expected one of {EOS_MODES}.")
    _check_length(length, "tok")
    if text is not None and inkey is not None:
        raise ValueError(f"tok: give either text={text!r} or inkey={inkey!r}, not both.")
    if text is not None and not isinstance(text, str):
        raise ValueError(f"tok: text must be a string, got {text!r}.")
    dst, src = outkey or key, inkey or key
    if dst is None or (text is None and src is None):
        raise ValueError("tok needs `key` (or `inkey` and `outkey`; `outkey` alone with `text`).")
    proto = read_model(_resolve_model(model))
    spm = sentencepiece.SentencePieceProcessor(model_proto=proto)
    for wanted, piece, idx in ((bos == "yes", "BOS", spm.bos_id()), (eos != "no", "EOS", spm.eos_id()),
                               (length is not None, "pad", spm.pad_id())):
        if wanted and idx < 0:
            raise ValueError(
                f"tok: SentencePiece model {model!r} has no {piece} piece (id {idx}), needed for "
                f"bos={bos!r}, eos={eos!r}, length={length!r}"
                + ("; tokenize without `length` and pad with tolen(length, pad_value=...)." if piece == "pad" else ".")
            )
    sticky = eos == "sticky"

    if text is not None:
        ids = [spm.bos_id()] * (bos == "yes") + spm.encode(text) + [spm.eos_id()] * (eos != "no")
        if length is not None:
            ids = ids[: length - 1] + ids[-1:] if (sticky and len(ids) >= length) else ids[:length]
            ids += [spm.pad_id()] * (length - len(ids))

        def _tok_constant(data):
            data[dst] = tf.constant(ids, tf.int32, shape=[len(ids)])
            return data

        return _tok_constant

    tokenizer = _VariableLengthTokenizer(proto, add_bos=bos == "yes", add_eos=eos != "no")
    pad_id = spm.pad_id()

    def _tok(data):
        value = tf.convert_to_tensor(_get(data, src, "tok"))
        if value.dtype != tf.string or value.shape.rank != 0:
            raise ValueError(f"tok: {src!r} must be a scalar string, got {value.dtype.name}{value.shape}.")
        ids = tokenizer.in_graph(value)
        data[dst] = ids if length is None else fit_length(ids, length, sticky, pad_id)
        return data

    return _tok


@register("tolen")
def get_tolen(length, *, sticky_end=False, pad_value=None, pad_key=None, key=None, inkey=None, outkey=None):
    """Cuts or pads a token sequence (axis 0) to `length`; `length` 0/None leaves it as is.

    Args:
        length: output length.
        sticky_end: when cutting, keep the last entry (EOS) last.
        pad_value: padding value; or
        pad_key: a key whose value (its first entry, if 1-D) is the padding value.
        key, inkey, outkey: input / output keys.

    Example:
    >>> get_preprocess_fn("tolen(4, pad_value=1, key='mask_ar')")({"mask_ar": [0, 0, 1]})["mask_ar"].numpy().tolist()
    [0, 0, 1, 1]
    """
    src, dst = _keys("tolen", key, inkey, outkey)
    if not length:
        return lambda data: {**data, dst: _get(data, src, "tolen")}
    _check_length(length, "tolen", allow_none=False)
    if pad_value is None and pad_key is None:
        raise ValueError(f"tolen({length}, key={src!r}) needs `pad_value` or `pad_key` (what to pad with).")

    def _tolen(data):
        pad = pad_value
        if pad_key is not None:
            pad = tf.convert_to_tensor(_get(data, pad_key, "tolen"))
            pad = pad[0] if pad.shape.rank == 1 else pad  # e.g. the ids of a tokenized pad text
        data[dst] = fit_length(_get(data, src, "tolen"), length, sticky_end, pad)
        return data

    return _tolen


@register("masked_concat")
def get_masked_concat(keys, outkey="text", **masks):
    """Concatenates data[k] for k in `keys` (axis 0) into `outkey`, plus one mask per kwarg.

    Each mask kwarg is a list with one constant per key; mask `m` gets that constant at
    every position of that key's tokens.

    Args:
        keys: the keys to join, in order.
        outkey: where the joined tokens go.
        **masks: name=[one value per key], e.g. mask_ar=[0, 0, 1], mask_loss=[0, 0, 1].

    Example:
    >>> fn = get_preprocess_fn('masked_concat(["a", "b"], mask_loss=[0, 1])')
    >>> fn({"a": [5, 6], "b": [7]})["mask_loss"].numpy().tolist()
    [0, 0, 1]
    """
    if isinstance(keys, str) or not isinstance(keys, (list, tuple)) or not keys:
        raise ValueError(f"masked_concat: keys must be a non-empty list of keys, got {keys!r}.")
    for name, values in masks.items():
        if not isinstance(values, (list, tuple)) or len(values) != len(keys):
            raise ValueError(
                f"masked_concat: mask {name}={values!r} needs one value per key, i.e. {len(keys)} for {list(keys)}."
            )

    def _masked_concat(data):
        parts = [tf.convert_to_tensor(_get(data, k, "masked_concat")) for k in keys]  # read before writing
        data[outkey] = tf.concat(parts, axis=0)
        for name, values in masks.items():
            data[name] = tf.concat([tf.fill(tf.shape(p), tf.constant(v)) for p, v in zip(parts, values)], axis=0)
        return data

    return _masked_concat


@register("strfmt")
def get_strfmt(template, outkey="text"):
    """Writes `template` with each `{key}` replaced by data[key] (non-strings printed) to `outkey`.

    Args:
        template: a str.format template without format specs or conversions.
        outkey: output key.

    Example:
    >>> get_preprocess_fn('strfmt("answer en {question}", outkey="prefix")')({"question": "why?"})["prefix"]
    <tf.Tensor: shape=(), dtype=string, numpy=b'answer en why?'>
    """
    try:
        parts = list(string.Formatter().parse(template))
    except (ValueError, TypeError) as e:
        raise ValueError(f"strfmt: malformed template {template!r}: {e}.") from None
    for _, field, spec, conversion in parts:
        if spec or conversion:
            raise ValueError(f"strfmt: template {template!r}: `{{{field}}}` has a format spec or conversion; "
                             "only plain {key} fields are supported.")
        if field == "":
            raise ValueError(f"strfmt: template {template!r} has an empty {{}} field; name a key, e.g. {{text}}.")

    def _strfmt(data):
        pieces = []
        for literal, field, _, _ in parts:
            pieces.append(tf.constant(literal))
            if field is not None:
                value = tf.convert_to_tensor(_get(data, field, "strfmt"))
                if value.dtype != tf.string:
                    value = tf.strings.format("{}", value, summarize=-1)
                pieces.append(value)
        data[outkey] = tf.strings.join(pieces)
        return data

    return _strfmt


@register("strjoin")
def get_strjoin(glue, axis=None, *, key=None, inkey=None, outkey=None):
    """Joins strings (all, or along `axis`) with separator `glue`.

    Example:
    >>> get_preprocess_fn("strjoin(', ', key='answers')")({"answers": ["a", "b"]})["answers"]
    <tf.Tensor: shape=(), dtype=string, numpy=b'a, b'>
    """
    src, dst = _keys("strjoin", key, inkey, outkey)

    def _strjoin(data):
        data[dst] = tf.strings.reduce_join(_get(data, src, "strjoin"), axis=axis, separator=glue)
        return data

    return _strjoin


@register("majority")
def get_majority(*, key=None, inkey=None, outkey=None):
    """The most frequent entry of a 1-D tensor (ties: the one seen first), e.g. VQA answers.

    Example:
    >>> get_preprocess_fn("majority(key='answers')")({"answers": ["2", "3", "3"]})["answers"]
    <tf.Tensor: shape=(), dtype=string, numpy=b'3'>
    """
    src, dst = _keys("majority", key, inkey, outkey)

    def _majority(data):
        values, _, counts = tf.unique_with_counts(tf.reshape(_get(data, src, "majority"), [-1]))
        data[dst] = values[tf.argmax(counts)]
        return data

    return _majority


@register("getidx")
def get_getidx(inkey, index_key, outkey=None):
    """data[outkey or inkey] = data[inkey][data[index_key]].

    Example:
    >>> get_preprocess_fn("getidx('answers', 'i', outkey='a')")({"answers": ["x", "y"], "i": 1})["a"]
    <tf.Tensor: shape=(), dtype=string, numpy=b'y'>
    """

    def _getidx(data):
        data[outkey or inkey] = tf.gather(_get(data, inkey, "getidx"), _get(data, index_key, "getidx"))
        return data

    return _getidx


@register("choice_no_replacement")
def get_choice_no_replacement(key=None, inkey=None, outkey=None):
    """Picks one entry (the same index for every key) with the per-example seed.

    big_vision's version cycles through each example's entries across epochs; here
    every epoch picks afresh (see the module note). Arguments as `choice`.

    Example:
    >>> get_preprocess_fn('choice_no_replacement(inkey="answers", outkey="suffix")')
    """
    return get_choice("single", key=key, inkey=inkey, outkey=outkey)


@register("task_prompts")
def get_task_prompts(tasks, outkey_prefix="prefixes", outkey_suffix="suffixes"):
    """Lists of (prefix, suffix) pairs for several tasks of one example, to `choice` one from.

    Each task is (prefix template, suffix key) or (prefix template, suffix key, format key):
    a constant prefix pairs with every entry of data[suffix key] (e.g. captions), and a
    template with "{}" is filled with each entry of data[format key] and paired with the
    same entry of data[suffix key] (e.g. questions and answers).

    Args:
        tasks: list of tuples as above.
        outkey_prefix, outkey_suffix: output keys of the two string lists (same length).

    Example:
    >>> pp = ("task_prompts([('caption en', 'texts'), ('answer en {}', 'answers', 'questions')])|"
    ...       "choice(inkey=['prefixes', 'suffixes'], outkey=['prefix', 'suffix'])")
    """
    parsed = []
    for task in tasks:
        if not isinstance(task, (list, tuple)) or len(task) not in (2, 3) or not all(isinstance(t, str) for t in task):
            raise ValueError(f"task_prompts: each task is (prefix, suffix_key) or (template, suffix_key, format_key) "
                             f"strings, got {task!r}.")
        if len(task) == 3 and task[0].count("{}") != 1:
            raise ValueError(f"task_prompts: template {task[0]!r} of task {task!r} needs exactly one '{{}}'.")
        parsed.append(tuple(task))

    def _task_prompts(data):
        prefixes, suffixes = [], []
        for task in parsed:
            suffix = tf.reshape(tf.convert_to_tensor(_get(data, task[1], "task_prompts")), [-1])
            if len(task) == 2:
                prefix = tf.fill(tf.shape(suffix), task[0])
            else:
                fields = tf.reshape(tf.convert_to_tensor(_get(data, task[2], "task_prompts")), [-1])
                before, after = task[0].split("{}")
                prefix = tf.strings.join([before, fields, after]) if after else tf.strings.join([before, fields])
            prefixes.append(prefix)
            suffixes.append(suffix)
        data[outkey_prefix] = tf.concat(prefixes, axis=0)
        data[outkey_suffix] = tf.concat(suffixes, axis=0)
        return data

    return _task_prompts
