import numpy as np
import pytest
import sentencepiece
import tensorflow as tf

from keras_vision.data import get_preprocess_fn
from keras_vision.data import train_sentencepiece
from tests.conftest import SHARED_DATA

ASSETS = SHARED_DATA / "sentencepiece_test_assets"
T5_MODEL = ASSETS / "seqio_t5style_vocab26.model"  # pad=0, eos=1, unk=2
UNIGRAM = ASSETS / "botchan_en_unigram_1000.model"  # unk=0, bos=1, eos=2, no pad

pytestmark = pytest.mark.skipif(
    not T5_MODEL.exists(), reason=f"shared test data missing: {T5_MODEL} (set KERAS_VISION_SHARED_DATA)"
)


def _expected(sp, text, max_len, eos, pad, lower=True):
    ids = sp.encode(text.lower() if lower else text)
    if eos != "none":
        ids = ids + [sp.eos_id()]
    if len(ids) >= max_len:
        return ids[: max_len - 1] + ids[-1:] if eos == "sticky" else ids[:max_len]
    return ids + [pad] * (max_len - len(ids))


@pytest.mark.parametrize("eos", ["none", "yes", "sticky"])
@pytest.mark.parametrize("pad", [0, 1])
def test_tokenize_matches_sentencepiece_and_big_vision_rules(run_pp, eos, pad):
    sp = sentencepiece.SentencePieceProcessor(model_file=str(T5_MODEL))
    pp = f"tokenize(6, model='{T5_MODEL}', eos='{eos}', pad_value={pad}, inkey='text')"
    for text in ["a", "the test", "What a very long sentence this is", ""]:
        eager, graph = run_pp(pp, {"text": text})
        want = _expected(sp, text, 6, eos, pad)
        assert eager["labels"].tolist() == want, text
        assert graph["labels"].tolist() == want
        assert eager["labels"].dtype == np.int32


def test_big_vision_docstring_table():
    # id("</s>")=1; "a" -> [3, 5] in this vocabulary ("▁", "a").
    def tok(text, eos, pad):
        fn = get_preprocess_fn(f"tokenize(4, model='{T5_MODEL}', eos='{eos}', pad_value={pad}, inkey='t')")
        return fn({"t": text})["labels"].numpy().tolist()

    assert tok("a", "none", 0) == [3, 5, 0, 0]
    assert tok("a", "yes", 0) == [3, 5, 1, 0]
    assert tok("a a", "yes", 0) == [3, 5, 3, 5]  # cut: EOS lost
    assert tok("a a", "sticky", 0) == [3, 5, 3, 1]  # cut: EOS kept
    assert tok("a", "sticky", 1) == [3, 5, 1, 1]  # SigLIP-style: always ends with EOS


def test_tokenize_pad_piece_lower_and_bos(run_pp):
    sp = sentencepiece.SentencePieceProcessor(model_file=str(UNIGRAM))
    text = "I am a Cat."
    out, _ = run_pp(
        f"tokenize(16, model='{UNIGRAM}', eos='yes', pad_value=7, lower=False, add_bos=True)", {"texts": text}
    )
    ids = [sp.bos_id()] + sp.encode(text) + [sp.eos_id()]
    assert out["labels"].tolist() == ids + [7] * (16 - len(ids))
    lowered, _ = run_pp(f"tokenize(16, model='{UNIGRAM}', pad_value=0)", {"texts": text})
    assert lowered["labels"].tolist()[: len(sp.encode(text.lower()))] == sp.encode(text.lower())
    # "<pad>" as a piece: the T5 model has it as id 0.
    padded, _ = run_pp(f"tokenize(5, model='{T5_MODEL}', eos='yes')", {"texts": "a"})
    assert padded["labels"].tolist() == [3, 5, 1, 0, 0]


def test_tokenize_multi_texts(run_pp):
    texts = np.array([b"a", b"the test", b"What a very long sentence this is"])
    pp = f"tokenize(5, model='{T5_MODEL}', eos='sticky', pad_value=1, sample_if_multi=False, outkey='all')"
    eager, graph = run_pp(pp, {"texts": texts})
    assert eager["all"].shape == (3, 5)
    np.testing.assert_array_equal(eager["all"], graph["all"])
    assert (eager["all"][:, -1] == 1).all()  # sticky EOS on every row, even the cut one
    # Default: pick one at random (deterministic given the example seed).
    one, one_graph = run_pp(
        f"tokenize(5, model='{T5_MODEL}', eos='sticky', pad_value=1)", {"texts": texts}, seed=(1, 1)
    )
    assert one["labels"].tolist() in eager["all"].tolist()
    np.testing.assert_array_equal(one["labels"], one_graph["labels"])
    empty, _ = run_pp(
        f"tokenize(3, model='{T5_MODEL}', eos='yes', pad_value=0)",
        {"texts": np.array([], dtype=bytes)},
        seed=(0, 0),
    )
    assert empty["labels"].tolist() == [1, 0, 0]


def test_tokenize_errors():
    with pytest.raises(ValueError, match="eos"):
        get_preprocess_fn(f"tokenize(4, model='{T5_MODEL}', eos='always')")
    with pytest.raises(FileNotFoundError, match="no_such.model"):
        get_preprocess_fn("tokenize(4, model='/nowhere/no_such.model')")
    with pytest.raises(FileNotFoundError, match="c4_en"):
        get_preprocess_fn("tokenize(4, model='c4_en')")


def test_tokenize_settings_are_the_ops_with_its_defaults():
    from keras_vision.data.ops_text import tokenize_settings

    pp = f"decode|tokenize(6, 'sticky', model='{T5_MODEL}', pad_value=1, inkey='texts')|keep('labels')"
    assert tokenize_settings(pp) == {"max_len": 6, "eos": "sticky", "model": str(T5_MODEL), "lower": True,
                                     "pad_value": 1, "add_bos": False}
    assert tokenize_settings("tokenize(4)") == {"max_len": 4, "eos": "none", "model": "c4_en", "lower": True,
                                                "pad_value": "<pad>", "add_bos": False}
    with pytest.raises(ValueError, match="No tokenize"):
        tokenize_settings("decode|resize(32)")
    with pytest.raises(ValueError, match="unexpected keyword argument 'size'"):
        tokenize_settings("tokenize(4, size=3)")


def test_one_tokenizer_for_the_pp_op_and_the_module():
    """The `tokenize` op runs SentencePieceTextTokenizer: same ids eagerly, batched and in tf.data."""
    from keras_vision.data.sentencepiece_tokenizer import SentencePieceTextTokenizer

    texts = ["a", "the test", "What a very long sentence this is", ""]
    tok = SentencePieceTextTokenizer(T5_MODEL, 5, eos="sticky", pad_value="<pad>")
    assert tok.pad_value == 0 and tok.config()["vocab_size"] == 26
    fn = get_preprocess_fn(f"tokenize(5, model='{T5_MODEL}', eos='sticky', pad_value='<pad>', outkey='ids')")
    ds = tf.data.Dataset.from_tensor_slices({"texts": texts}).map(fn).batch(len(texts))
    batched = tok(tf.constant(texts)).numpy()
    np.testing.assert_array_equal(next(iter(ds))["ids"].numpy(), batched)
    np.testing.assert_array_equal(np.stack([tok(t).numpy() for t in texts]), batched)
    np.testing.assert_array_equal(tf.function(tok.in_graph)(tf.constant(texts)).numpy(), batched)
    with pytest.raises(ValueError, match="1-D batch of strings"):
        tok(tf.constant([["a"]]))


def test_lower(run_pp):
    out, graph = run_pp("lower", {"text": "Hello WORLD"})
    assert out["text"].item() == b"hello world" == graph["text"].item()


def test_train_sentencepiece_default_ids_and_sticky_padding(tmp_path):
    lines = (ASSETS / "botchan.txt").read_text(encoding="utf-8").splitlines()[:400]
    path = train_sentencepiece(lines, 120, tmp_path / "vocab" / "botchan.model", lower=True)
    assert path == str(tmp_path / "vocab" / "botchan.model")
    assert (tmp_path / "vocab" / "botchan.vocab").exists()
    sp = sentencepiece.SentencePieceProcessor(model_file=path)
    assert (sp.pad_id(), sp.eos_id(), sp.unk_id(), sp.bos_id()) == (0, 1, 2, -1)
    assert sp.get_piece_size() == 120
    fn = get_preprocess_fn(f"tokenize(8, model='{path}', eos='sticky', pad_value=1)")
    short = fn({"texts": tf.constant("the cat")})["labels"].numpy()
    long = fn({"texts": tf.constant("the quick brown fox jumps over the lazy dog again and again")})[
        "labels"
    ].numpy()
    assert short[-1] == 1 and long[-1] == 1 and (long[:-1] != 1).all()
    # Text-file input and a prefix without ".model" give the same vocabulary.
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(lines), encoding="utf-8")
    again = train_sentencepiece(str(corpus), 120, tmp_path / "again", lower=True)
    sp2 = sentencepiece.SentencePieceProcessor(model_file=again)
    assert [sp2.id_to_piece(i) for i in range(120)] == [sp.id_to_piece(i) for i in range(120)]


def test_train_sentencepiece_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        train_sentencepiece(str(tmp_path / "missing.txt"), 50, tmp_path / "m")
    with pytest.raises(ValueError, match="no non-empty texts"):
        train_sentencepiece(["", "  "], 50, tmp_path / "m")


def test_tokenize_survives_set_random_seed():
    # Eager SentencePiece resources die when TF clears its kernel cache (set_seed does).
    import keras

    fn = get_preprocess_fn(f"tokenize(4, model='{T5_MODEL}', eos='yes', pad_value=0)")
    ds = tf.data.Dataset.from_tensors({"texts": "a"}).map(fn)
    keras.utils.set_random_seed(1)
    assert next(iter(ds))["labels"].numpy().tolist() == [3, 5, 1, 0]
    assert fn({"texts": "a"})["labels"].numpy().tolist() == [3, 5, 1, 0]
