"""Trains a SentencePiece vocabulary for the `tokenize` pp op and text towers."""

import os

import sentencepiece

from keras_vision.api_export import keras_vision_export


def _iter_texts(texts, lower):
    if isinstance(texts, (str, os.PathLike)):
        path = os.fspath(texts)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"train_sentencepiece: text file {path!r} does not exist.")
        with open(path, encoding="utf-8") as f:
            texts = [line.rstrip("\n") for line in f]
    for t in texts:
        if isinstance(t, bytes):
            t = t.decode("utf-8")
        if not isinstance(t, str):
            raise TypeError(f"train_sentencepiece: texts must be strings, got {type(t).__name__}.")
        t = t.strip()
        if t:
            yield t.lower() if lower else t


@keras_vision_export("keras_vision.data.train_sentencepiece")
def train_sentencepiece(
    texts,
    vocab_size,
    model_prefix_or_path,
    *,
    model_type="unigram",
    pad_id=0,
    eos_id=1,
    unk_id=2,
    bos_id=-1,
    lower=False,
    character_coverage=1.0,
    hard_vocab_limit=True,
    num_threads=1,
    **trainer_kwargs,
):
    """Trains a SentencePiece model with the `sentencepiece` package; returns its path.

    The default ids follow big_vision's c4_en / T5 vocabularies: pad=0, eos=1, unk=2, no
    BOS. So `tokenize(L, model=path, eos="sticky", pad_value=1)` gives SigLIP-style
    "always ends with EOS" sequences, and `pad_value="<pad>"` pads with 0.

    Args:
        texts: an iterable of strings (one sentence each) or the path of a UTF-8 text
            file with one sentence per line. Empty lines are skipped.
        vocab_size: number of pieces, including the special ones.
        model_prefix_or_path: output "dir/name" or "dir/name.model"; writes
            name.model and name.vocab (directories are created).
        model_type: "unigram" (T5/big_vision), "bpe", "char" or "word".
        pad_id, eos_id, unk_id, bos_id: special ids (-1 disables one).
        lower: lowercase the texts first (pair with tokenize's default lower=True).
        character_coverage: fraction of characters covered (1.0 for small alphabets).
        hard_vocab_limit: False lets a small corpus yield fewer than vocab_size pieces.
        num_threads: training threads (1 keeps the result reproducible).
        **trainer_kwargs: more `sentencepiece.SentencePieceTrainer.train` options.

    Example:
    >>> path = train_sentencepiece(["a cat", "two dogs"] * 50, 30, "/tmp/sp/tiny",
    ...                            hard_vocab_limit=False)
    """
    prefix = os.fspath(model_prefix_or_path)
    if prefix.endswith(".model"):
        prefix = prefix[: -len(".model")]
    parent = os.path.dirname(prefix)
    if parent:
        os.makedirs(parent, exist_ok=True)
    sentences = list(_iter_texts(texts, lower))
    if not sentences:
        raise ValueError("train_sentencepiece: no non-empty texts to train on.")
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences),
        model_prefix=prefix,
        vocab_size=int(vocab_size),
        model_type=model_type,
        pad_id=pad_id,
        eos_id=eos_id,
        unk_id=unk_id,
        bos_id=bos_id,
        character_coverage=character_coverage,
        hard_vocab_limit=hard_vocab_limit,
        num_threads=num_threads,
        minloglevel=2,
        **trainer_kwargs,
    )
    return prefix + ".model"
