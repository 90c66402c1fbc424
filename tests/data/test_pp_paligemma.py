"""PaliGemma pp ops: big_vision's transfer chains pasted unchanged, mask semantics, errors.

The expected ids are written out by hand from the piece table of the botchan unigram
model (unk=0, bos=1, eos=2, no pad); `test_piece_ids_the_tests_assume` pins that table.
"""

import numpy as np
import pytest
import sentencepiece
import tensorflow as tf

from keras_vision.data import get_preprocess_fn
from keras_vision.data import ops_paligemma
from keras_vision.data.registry import RNG_KEY
from tests.conftest import shared_data

UNIGRAM = "sentencepiece_test_assets/botchan_en_unigram_1000.model"  # unk=0, bos=1, eos=2, no pad
T5 = "sentencepiece_test_assets/seqio_t5style_vocab26.model"  # pad=0, eos=1, unk=2, no bos
TOKENIZER = 'gemma(tokensets=("loc", "seg"))'  # big_vision's PaliGemma transfers/common.py

# big_vision's combine_and_keep_train(32) and combine_and_keep_eval(32, keep=("image/id", "captions")).
TRAIN_32 = "|".join([
    r"""tok(key='prefix', bos='yes', model='gemma(tokensets=("loc", "seg"))')""",
    r"""tok(key='suffix', eos='yes', model='gemma(tokensets=("loc", "seg"))')""",
    r"""tok(key='septok', text='\n', model='gemma(tokensets=("loc", "seg"))')""",
    r"""masked_concat(["prefix", "septok", "suffix"], outkey="text", mask_ar=[0, 0, 1], mask_loss=[0, 0, 1])""",
    r"""tolen(33, pad_value=0, key="text")""",
    r"""tolen(33, pad_value=1, key="mask_ar")""",
    r"""tolen(33, pad_value=0, key="mask_loss")""",
    r"""keep("image", "text", "mask_ar", "mask_loss")""",
])
EVAL_32 = "|".join([
    r"""tok(key='prefix', bos='yes', model='gemma(tokensets=("loc", "seg"))')""",
    r"""tok(key='septok', text='\n', model='gemma(tokensets=("loc", "seg"))')""",
    r"""setdefault("suffix", "")""",
    r"""tok(key='suffix', eos='no', model='gemma(tokensets=("loc", "seg"))')""",
    r"""masked_concat(["prefix", "septok", "suffix"], outkey="text", mask_ar=[0, 0, 1], mask_input=[1, 1, 1])""",
    r"""tolen(32, pad_value=0, key="text")""",
    r"""tolen(32, pad_value=1, key="mask_ar")""",
    r"""tolen(32, pad_value=0, key="mask_input")""",
    r"""keep("image", "text", "mask_ar", "mask_input", "image/id", "captions")""",
])

PREFIX = [1, 78, 19, 29, 294, 4, 98]  # "caption en", bos: <s> ▁c a p tion ▁ en
SEP = [4, 0]  # "\n": ▁ <unk> (no newline piece in this vocabulary)
SUFFIX = [11, 78, 77, 59, 11, 239, 15, 2]  # "a cat on a mat", eos: ▁a ▁c at ▁on ▁a ▁ma t </s>
TWO = [213, 2]  # "two", eos: ▁two </s>
QUESTION = [1, 653, 4, 98, 154, 47, 27, 152]  # "answer en what is it?", bos: <s> ▁answer ▁ en ▁what ▁is ▁it ?
IMAGE = np.zeros([4, 4, 3], np.float32)


@pytest.fixture
def gemma(monkeypatch):
    """Maps big_vision's PaliGemma tokenizer name to the botchan model (restored afterwards)."""
    path = shared_data(UNIGRAM)
    monkeypatch.setitem(ops_paligemma.TOKENIZER_FILES, TOKENIZER, str(path))
    return sentencepiece.SentencePieceProcessor(model_file=str(path))


def _lists(out):
    return {k: v.tolist() for k, v in out.items() if k != "image"}


def test_piece_ids_the_tests_assume(gemma):
    pieces = {
        "caption en": ["▁c", "a", "p", "tion", "▁", "en"], "\n": ["▁", "<unk>"],
        "a cat on a mat": ["▁a", "▁c", "at", "▁on", "▁a", "▁ma", "t"], "two": ["▁two"],
        "answer en what is it?": ["▁answer", "▁", "en", "▁what", "▁is", "▁it", "?"],
    }
    ids = {"caption en": PREFIX[1:], "\n": SEP, "a cat on a mat": SUFFIX[:-1], "two": TWO[:-1],
           "answer en what is it?": QUESTION[1:]}
    for text, want in pieces.items():
        assert [gemma.id_to_piece(i) for i in ids[text]] == want
        assert gemma.encode(text) == ids[text]
    assert (gemma.bos_id(), gemma.eos_id(), gemma.pad_id()) == (1, 2, -1)


def test_train_chain(gemma, run_pp):
    eager, graph = run_pp(TRAIN_32, {"image": IMAGE, "prefix": "caption en", "suffix": "a cat on a mat"})
    want = {
        "text": PREFIX + SEP + SUFFIX + [0] * 16,
        "mask_ar": [0] * 9 + [1] * 24,  # prefix+sep: full attention; suffix and padding: causal
        "mask_loss": [0] * 9 + [1] * 8 + [0] * 16,  # only the suffix (with its EOS) is scored
    }
    for out in (eager, graph):
        assert sorted(out) == ["image", "mask_ar", "mask_loss", "text"]
        assert _lists(out) == want
        assert {out[k].dtype for k in want} == {np.dtype(np.int32)}
        assert out["text"].shape == (33,)


def test_train_chain_cuts_long_texts(gemma, run_pp):
    eager, graph = run_pp(TRAIN_32.replace("tolen(33,", "tolen(11,"), {"prefix": "caption en", "suffix": "a cat on a mat"})
    want = {"text": PREFIX + SEP + [11, 78], "mask_ar": [0] * 9 + [1, 1], "mask_loss": [0] * 9 + [1, 1]}
    assert _lists(eager) == _lists(graph) == want


def test_eval_chain_without_and_with_suffix(gemma, run_pp):
    base = {"image": IMAGE, "prefix": "caption en", "image/id": 7, "captions": ["x", "y"], "other": 1}
    eager, graph = run_pp(EVAL_32, base)
    want = {
        "text": PREFIX + SEP + [0] * 23,
        "mask_ar": [0] * 9 + [1] * 23,
        "mask_input": [1] * 9 + [0] * 23,  # the padding is not input
        "image/id": 7, "captions": [b"x", b"y"],
    }
    assert _lists(eager) == _lists(graph) == want
    # A suffix given at eval time is tokenized without EOS; decoding continues from it.
    eager, graph = run_pp(EVAL_32, {**base, "suffix": "a cat"})
    want.update(text=PREFIX + SEP + [11, 78, 77] + [0] * 20, mask_input=[1] * 12 + [0] * 20)
    assert _lists(eager) == _lists(graph) == want


def test_cococap_train_and_eval_pp(gemma, run_pp):
    # cococap.py's pp without the image ops.
    example = {"image": IMAGE, "captions": {"text": ["a cat on a mat", "two"]}}
    train = ('flatten|choice_no_replacement(inkey="captions/text", outkey="suffix")|'
             'strfmt("caption en", outkey="prefix")|' + TRAIN_32)
    eager, graph = run_pp(train, example, seed=(3, 4))
    assert _lists(eager) == _lists(graph)
    assert eager["text"].tolist() in (PREFIX + SEP + SUFFIX + [0] * 16, PREFIX + SEP + TWO + [0] * 22)
    fn = get_preprocess_fn(train)
    seen = {tuple(fn({**example, RNG_KEY: tf.constant([s, 0], tf.int64)})["text"].numpy().tolist())
            for s in range(12)}
    assert len(seen) == 2  # the per-example seed picks either caption
    evaluate = 'flatten|copy("captions/text", "captions")|strfmt("caption en", outkey="prefix")|' + EVAL_32
    eager, _ = run_pp(evaluate, {**example, "image/id": 5})
    assert eager["captions"].tolist() == [b"a cat on a mat", b"two"]
    assert eager["text"].tolist() == PREFIX + SEP + [0] * 23


def test_vqav2_train_pp(gemma, run_pp):
    pp = ('strfmt("answer en {question_text}", outkey="prefix")|'
          'choice_no_replacement(inkey="answers", outkey="suffix")|' + TRAIN_32)
    eager, graph = run_pp(pp, {"image": IMAGE, "question_text": "what is it?", "answers": ["two"]}, seed=(0, 1))
    assert _lists(eager) == _lists(graph)
    assert eager["text"].tolist() == QUESTION + SEP + TWO + [0] * 21
    assert eager["mask_loss"].tolist() == [0] * 10 + [1, 1] + [0] * 21


def test_tok_matches_sentencepiece(gemma, run_pp):
    model = ops_paligemma.TOKENIZER_FILES[TOKENIZER]
    for text in ["I am a Cat.", "", "answer en what is it?"]:  # no lowercasing, unlike `tokenize`
        for bos, eos in (("no", "no"), ("yes", "yes"), ("yes", "sticky")):
            eager, graph = run_pp(f"tok(key='t', bos='{bos}', eos='{eos}', model='{model}')", {"t": text})
            want = [1] * (bos == "yes") + gemma.encode(text) + [2] * (eos != "no")
            assert eager["t"].tolist() == graph["t"].tolist() == want, (text, bos, eos)
            assert eager["t"].dtype == np.int32
    # inkey/outkey, and a constant text tokenized once at build time.
    eager, graph = run_pp(f"tok(inkey='a', outkey='b', model='{model}')|tok(key='c', text='two', eos='yes', "
                          f"model='{model}')", {"a": "two"})
    assert eager["b"].tolist() == graph["b"].tolist() == [213]
    assert eager["c"].tolist() == graph["c"].tolist() == TWO


def test_tok_length_and_sticky_eos(run_pp):
    t5 = shared_data(T5)  # "a cat" -> ▁ a ▁ c at = [3, 5, 3, 13, 18]; pad 0, eos 1
    for eos, text, want in [("sticky", "a cat", [3, 5, 3, 1]), ("yes", "a cat", [3, 5, 3, 13]),
                            ("sticky", "a", [3, 5, 1, 0]), ("no", "a", [3, 5, 0, 0])]:
        eager, graph = run_pp(f"tok(key='t', eos='{eos}', length=4, model='{t5}')", {"t": text})
        assert eager["t"].tolist() == graph["t"].tolist() == want, (eos, text)
        assert graph["t"].shape == (4,)
        const, _ = run_pp(f"tok(key='t', text='{text}', eos='{eos}', length=4, model='{t5}')", {"x": 0})
        assert const["t"].tolist() == want


def test_tolen(run_pp):
    x = {"t": np.array([4, 5, 6, 7], np.int32), "p": np.array([9, 8], np.int32)}
    cases = {
        "tolen(6, pad_value=-1, key='t')": [4, 5, 6, 7, -1, -1],
        "tolen(3, pad_value=0, key='t')": [4, 5, 6],
        "tolen(3, pad_value=0, key='t', sticky_end=True)": [4, 5, 7],
        "tolen(4, pad_value=0, key='t', sticky_end=True)": [4, 5, 6, 7],
        "tolen(6, pad_key='p', key='t')": [4, 5, 6, 7, 9, 9],  # first entry of a 1-D pad key
        "tolen(0, key='t')": [4, 5, 6, 7],  # no length: unchanged, as big_vision
    }
    for pp, want in cases.items():
        eager, graph = run_pp(pp, x)
        assert eager["t"].tolist() == graph["t"].tolist() == want, pp
    eager, _ = run_pp("tolen(2, pad_value=0, inkey='t', outkey='u')", x)
    assert eager["u"].tolist() == [4, 5] and eager["t"].tolist() == [4, 5, 6, 7]


def test_masked_concat(run_pp):
    x = {"a": np.array([5, 6], np.int32), "b": np.zeros([0], np.int32), "c": np.array([7], np.int32)}
    eager, graph = run_pp('masked_concat(["a", "b", "c"], outkey="a", m=[1, 2, 3], f=[0.5, 0.0, 1.0])', x)
    for out in (eager, graph):
        assert out["a"].tolist() == [5, 6, 7]  # outkey may be an input key: inputs are read first
        assert out["m"].tolist() == [1, 1, 3] and out["m"].dtype == np.int32
        assert out["f"].tolist() == [0.5, 0.5, 1.0] and out["f"].dtype == np.float32
        assert out["c"].tolist() == [7]


def test_strfmt_strjoin_majority_getidx(run_pp):
    x = {"q": "why?", "n": np.int32(3), "v": np.array([1, 2], np.int32), "answers": ["2", "3", "2", "3"], "i": 1}
    eager, graph = run_pp(
        'strfmt("q: {q} n={n} v={v} {{x}}", outkey="p")|strjoin("+", key="answers", outkey="j")|'
        'majority(inkey="answers", outkey="m")|getidx("answers", "i", outkey="g")|strfmt("{q}")', x
    )
    for out in (eager, graph):
        assert out["p"] == b"q: why? n=3 v=[1 2] {x}"
        assert out["text"] == b"why?"  # strfmt's default outkey
        assert out["j"] == b"2+3+2+3"
        assert out["m"] == b"2"  # a tie goes to the entry seen first
        assert out["g"] == b"3"


@pytest.mark.parametrize("pp, match", [
    ('masked_concat(["prefix", "septok", "suffix"], mask_ar=[0, 1])', r"mask_ar=\[0, 1\] needs one value per key"),
    ('masked_concat("prefix", mask_ar=[0])', r"keys must be a non-empty list.*'prefix'"),
    ("tok(key='t', eos='maybe', model='x.model')", r"eos='maybe'; expected one of \('no', 'yes', 'sticky'\)"),
    ("tok(key='t', bos='sticky', model='x.model')", r"bos='sticky'; expected one of \('no', 'yes'\)"),
    ("tok(key='t', length=0, model='x.model')", "length must be a positive int, got 0"),
    ("tok(text='a', inkey='t', outkey='u', model='x.model')", "either text='a' or inkey='t'"),
    ("tolen(8, key='t')", r"tolen\(8, key='t'\) needs `pad_value` or `pad_key`"),
    ("tolen(8, pad_value=0)", "needs `key` or `inkey`"),
    ('strfmt("{x:>4}")', r"`\{x\}` has a format spec"),
    ('strfmt("{}")', "empty {} field"),
    ('strfmt("{x")', "malformed template '{x'"),
])
def test_bad_ops_name_the_value(pp, match):
    with pytest.raises(ValueError, match=match):
        get_preprocess_fn(pp)


def test_big_vision_tokenizer_name_needs_a_local_file(monkeypatch):
    monkeypatch.setattr(ops_paligemma, "TOKENIZER_FILES", {})
    with pytest.raises(ValueError, match=r"gemma\(tokensets.*local SentencePiece file.*register_tokenizer_file"):
        get_preprocess_fn(TRAIN_32)
    ops_paligemma.register_tokenizer_file(TOKENIZER, shared_data(UNIGRAM))
    out = get_preprocess_fn(TRAIN_32)({"prefix": "caption en", "suffix": "two"})
    assert out["text"].numpy().tolist() == PREFIX + SEP + TWO + [0] * 22


@pytest.mark.parametrize("pp, example, match", [
    ('masked_concat(["a", "nope"], m=[0, 1])', {"a": [1]}, r"masked_concat.*no key 'nope'; it has \['a'\]"),
    ("tolen(4, pad_value=0, key='nope')", {"a": [1]}, "no key 'nope'"),
    ('strfmt("answer en {question_text}")', {"question": "?"}, "'strfmt'.*no key 'question_text'"),
    ("majority(key='nope')", {"a": [1]}, "'majority'.*no key 'nope'"),
    ("getidx('a', 'nope')", {"a": [1]}, "'getidx'.*no key 'nope'"),
])
def test_missing_keys_name_the_key(pp, example, match):
    with pytest.raises(ValueError, match=match):
        get_preprocess_fn(pp)(example)


def test_tok_errors(gemma):
    model = ops_paligemma.TOKENIZER_FILES[TOKENIZER]
    with pytest.raises(ValueError, match=r"tok.*no key 'prefix'; it has \['suffix'\]"):
        get_preprocess_fn(f"tok(key='prefix', model='{model}')")({"suffix": "a"})
    with pytest.raises(ValueError, match="must be a scalar string"):
        get_preprocess_fn(f"tok(key='t', model='{model}')")({"t": ["a", "b"]})
    with pytest.raises(ValueError, match=r"has no pad piece.*tolen\(length, pad_value"):
        get_preprocess_fn(f"tok(key='t', length=8, model='{model}')")
    with pytest.raises(ValueError, match="has no BOS piece"):
        get_preprocess_fn(f"tok(key='t', bos='yes', model='{shared_data(T5)}')")
