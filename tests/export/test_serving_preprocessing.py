"""The in-graph pieces of the exports: pp op sorting, the image ops served, SentencePiece tokenizer."""

import numpy as np
import pytest
import tensorflow as tf

import export_helpers as H
from keras_vision.export import SentencePieceTextTokenizer
from keras_vision.export import ServingImagePreprocessor
from keras_vision.export import serving_pp


def test_split_serving_ops_keeps_image_ops_and_drops_label_ops():
    decode, image, dropped = serving_pp.split_serving_ops(
        "decode(precise=True)|resize_small(40)|central_crop(32)|value_range(-1, 1)|"
        "onehot(10, key='label', key_result='labels')|resize(8, key='mask')|keep('image', 'labels')")
    assert decode.text == "decode(precise=True)" and decode.kwargs == {"precise": True}
    assert [op.name for op in image] == ["resize_small", "central_crop", "value_range"]
    assert [op.text for op in dropped] == ["onehot(10, key='label', key_result='labels')",
                                           "resize(8, key='mask')", "keep('image', 'labels')"]


@pytest.mark.parametrize("pp, message", [
    ("decode_jpeg_and_inception_crop(224)|value_range(-1, 1)", "random training augmentation"),
    ("decode|randaug(2, 10)", "random training augmentation"),
    ("decode|posterize(4)", "Unknown pp op 'posterize'"),
    ("decode|resize(32", "Cannot parse pp op"),
    ("decode|resize(size=x)", "Cannot parse pp op"),
])
def test_bad_pp_strings(pp, message):
    with pytest.raises(ValueError, match=message):
        serving_pp.split_serving_ops(pp)


@pytest.mark.parametrize("pp", [
    "resize(32)|value_range(-1, 1)",
    "resize((24, 40), method='nearest')|value_range(0, 1)",
    "resize_small(36)|central_crop(32)|value_range(-1, 1, clip_values=True)",
    "resize_long(48, method='bilinear', antialias=True)|central_crop((20, 24))|vgg_value_range",
    "central_crop|resize(16, antialias=True)|clip_value_range",
])
def test_served_image_ops_equal_the_data_registry(pp):
    """The serving graph computes exactly what training computes (it runs the same op functions)."""
    from keras_vision.data import get_preprocess_fn

    data_fn = get_preprocess_fn(pp)
    size = data_fn({"image": tf.zeros((50, 50, 3), tf.uint8)})["image"].shape[:2]
    prep = ServingImagePreprocessor(pp, size, auto_resize=False)
    assert prep.serving_pp == pp and prep.describe()["implementation"] == "keras_vision.data"
    for img in H.images(seed=1, sizes=((41, 57), (60, 33))):
        got = prep.from_uint8(tf.constant(img[None]), "sig")[0]
        want = data_fn({"image": tf.constant(img)})["image"]
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_preprocessor_describes_itself_and_checks_the_output_size():
    prep = ServingImagePreprocessor("decode|resize_small(40)|central_crop(32)|value_range(-1, 1)|keep('image')",
                                    (32, 32))
    assert prep.describe()["serving_pp"] == "resize_small(40)|central_crop(32)|value_range(-1, 1)"
    assert prep.describe()["dropped_ops"] == ["keep('image')"]
    out = prep.from_bytes(tf.constant([H.encode(i, "PNG") for i in H.images()]), "sig")
    assert out.shape == (3, 32, 32, 3) and out.dtype == tf.float32
    assert -1.0 <= float(tf.reduce_min(out)) and float(tf.reduce_max(out)) <= 1.0
    with pytest.raises(ValueError, match=r"turns a 37x53 image into shape \(37, 37, 3\).*takes 32x32x3"):
        ServingImagePreprocessor("decode|central_crop|value_range(-1, 1)", (32, 32))
    with pytest.raises(ValueError, match=r"into shape \(37, 53, 3\)"):
        ServingImagePreprocessor("decode|value_range(-1, 1)", (32, 32), auto_resize=False)
    # Recipes whose data is already at the model's size have no resize: serving adds one.
    auto = ServingImagePreprocessor("value_range(-1, 1)|keep('image')", (32, 48))
    assert auto.serving_pp == "resize((32, 48))|value_range(-1, 1)"
    assert auto.describe()["added_ops"] == ["resize((32, 48))"]
    assert auto.from_uint8(tf.zeros((2, 17, 90, 3), tf.uint8), "sig").shape == (2, 32, 48, 3)


# --- tokenizer ----------------------------------------------------------------------------
def _python_tokenize(spm_bytes, texts, max_len, eos, pad_value, lower=True):
    """big_vision's `tokenize` with the sentencepiece Python library (independent reference)."""
    import sentencepiece

    sp = sentencepiece.SentencePieceProcessor(model_proto=spm_bytes)
    rows = []
    for t in texts:
        t = t.encode().lower().decode() if lower else t  # tf.strings.lower: ASCII only
        ids = sp.encode(t) + ([sp.eos_id()] if eos != "none" else [])
        if len(ids) >= max_len:
            ids = ids[: max_len - 1] + ids[-1:] if eos == "sticky" else ids[:max_len]
        rows.append(ids + [pad_value] * (max_len - len(ids)))
    return np.array(rows, np.int32)


TEXTS = ["a", "a red circle", "A RED CIRCLE", "", "a small yellow star on a white background and more",
         "ÄÖÜ ünïcödé", "   spaces   "]


@pytest.mark.parametrize("eos", ["sticky", "yes", "none"])
@pytest.mark.parametrize("max_len, pad_value", [(3, 0), (6, 3), (12, 1)])
def test_tokenizer_matches_big_vision_and_the_training_op(spm_model, eos, max_len, pad_value):
    from keras_vision.data import get_preprocess_fn

    tok = SentencePieceTextTokenizer(spm_model, max_len, eos=eos, pad_value=pad_value)
    got = tok(tf.constant(TEXTS)).numpy()
    assert got.dtype == np.int32 and got.shape == (len(TEXTS), max_len)
    np.testing.assert_array_equal(got, _python_tokenize(spm_model.read_bytes(), TEXTS, max_len, eos, pad_value))
    fn = get_preprocess_fn(f"tokenize(max_len={max_len}, eos='{eos}', model='{spm_model}', pad_value={pad_value},"
                           " inkey='t', outkey='ids')")
    train = np.stack([fn({"t": tf.constant(t)})["ids"].numpy() for t in TEXTS])
    np.testing.assert_array_equal(got, train)
    traced = tf.function(tok, input_signature=[tf.TensorSpec([None], tf.string)])
    np.testing.assert_array_equal(traced(tf.constant(TEXTS)).numpy(), got)


def test_tokenizer_options_and_errors(spm_model):
    tok = SentencePieceTextTokenizer(spm_model, 8, pad_value="<pad>", lower=False)
    assert tok.pad_value == 0 and tok.config()["lower"] is False
    upper = tok(tf.constant(["A RED"])).numpy()
    lower = tok(tf.constant(["a red"])).numpy()
    assert not np.array_equal(upper, lower)
    with pytest.raises(ValueError, match="pad_value piece '<nope>' is not in the SentencePiece model"):
        SentencePieceTextTokenizer(spm_model, 8, pad_value="<nope>")
    with pytest.raises(ValueError, match="Unknown eos mode 'always'"):
        SentencePieceTextTokenizer(spm_model, 8, eos="always")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        SentencePieceTextTokenizer("/no/such/spm.model", 8)


def test_tokenizer_survives_a_seed_reset(spm_model):
    """tf.random.set_seed (keras.utils.set_random_seed) drops tensorflow_text's eager resource."""
    tok = SentencePieceTextTokenizer(spm_model, 6)
    before = tok(tf.constant(["a red circle"])).numpy()
    tf.random.set_seed(1)
    np.testing.assert_array_equal(tok(tf.constant(["a red circle"])).numpy(), before)
