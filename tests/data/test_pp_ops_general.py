import io

import numpy as np
import pytest
import tensorflow as tf

from keras_vision.data import get_preprocess_fn
from keras_vision.data.image_check import image_bytes_problem


def test_value_range(run_pp):
    img = np.array([[[0, 128, 255]]], np.uint8)
    eager, graph = run_pp("value_range(-1, 1)", {"image": img})
    np.testing.assert_allclose(eager["image"], [[[-1, 128 / 255 * 2 - 1, 1]]], atol=1e-6)
    np.testing.assert_array_equal(eager["image"], graph["image"])
    out, _ = run_pp(
        "value_range(0, 1, in_min=(0, 0, 0), in_max=(255, 128, 255), clip_values=True)", {"image": img}
    )
    np.testing.assert_allclose(out["image"], [[[0, 1, 1]]], atol=1e-6)
    assert out["image"].dtype == np.float32


def test_onehot_variants(run_pp):
    eager, graph = run_pp("onehot(4, key='label', key_result='labels')", {"label": np.int32(2)})
    np.testing.assert_array_equal(eager["labels"], [0, 0, 1, 0])
    np.testing.assert_array_equal(graph["labels"], [0, 0, 1, 0])
    assert eager["label"] == 2
    # Multi-hot with on/off values (duplicates stay 'on').
    out, _ = run_pp("onehot(5, on=0.9, off=0.025)", {"labels": np.array([1, 3, 3])})
    np.testing.assert_allclose(out["labels"], [0.025, 0.9, 0.025, 0.9, 0.025], rtol=1e-6)
    out, _ = run_pp("onehot(3, multi=False)", {"labels": np.array([0, 2])})
    np.testing.assert_array_equal(out["labels"], [[1, 0, 0], [0, 0, 1]])
    # Extension: no explicit key, only "label" present -> "labels".
    out, _ = run_pp("onehot(3)|keep('labels')", {"label": np.int64(1)})
    assert list(out) == ["labels"]
    np.testing.assert_array_equal(out["labels"], [0, 1, 0])


def test_keep_drop_copy_rename(run_pp):
    ex = {"a": np.int32(1), "b": np.float32(2.0), "c": np.array([1, 2])}
    out, graph = run_pp("copy('a', 'z')|drop('b')|keep('a', 'z', 'c')|rename(c='d')", ex)
    assert sorted(out) == ["a", "d", "z"] and sorted(graph) == ["a", "d", "z"]
    assert out["z"] == 1
    np.testing.assert_array_equal(out["d"], [1, 2])


def test_flatten_nested(run_pp):
    ex = {
        "image": np.zeros((1,), np.uint8),
        "objects": {"bbox": np.ones((2, 4), np.float32), "meta": {"id": np.int64(7)}},
    }
    eager, graph = run_pp("flatten", ex)
    for out in (eager, graph):
        assert sorted(out) == ["image", "objects/bbox", "objects/meta/id"]
        assert out["objects/meta/id"] == 7


def test_choice_single_and_n(run_pp):
    texts = np.array([b"a", b"b", b"c", b"d"])
    eager, graph = run_pp("choice(key='texts')", {"texts": texts}, seed=(0, 5))
    assert eager["texts"] == graph["texts"]
    from keras_vision.data.registry import RNG_KEY

    fn = get_preprocess_fn("choice(key='texts')")
    seen = {fn({"texts": texts, RNG_KEY: tf.constant([s, 5], tf.int64)})["texts"].numpy() for s in range(20)}
    assert seen == {b"a", b"b", b"c", b"d"}
    eager, graph = run_pp(
        "choice(2, key=['texts', 'ids'])", {"texts": texts, "ids": np.arange(4)}, seed=(1, 2)
    )
    np.testing.assert_array_equal(eager["ids"], graph["ids"])
    assert eager["ids"].shape == (2,) and eager["ids"][0] < eager["ids"][1]  # order kept
    np.testing.assert_array_equal(eager["texts"], texts[eager["ids"]])  # same entries for both keys
    out, _ = run_pp("choice([1, 3], inkey='texts', outkey='{key}_some')", {"texts": texts}, seed=(4, 4))
    assert 1 <= len(out["texts_some"]) <= 3


def test_choice_too_few_fails():
    fn = get_preprocess_fn("choice(3, key='t')")
    with pytest.raises(tf.errors.InvalidArgumentError, match="fewer than 3"):
        fn({"t": tf.constant(["x", "y"])})


def test_setdefault_pad_reshape_squeeze_concat(run_pp):
    out, graph = run_pp("setdefault('t', 'empty')", {"t": np.array([], dtype=object).astype(bytes)})
    np.testing.assert_array_equal(out["t"], [b"empty"])
    out, _ = run_pp("setdefault('missing', 3)", {"x": np.int32(1)})
    assert out["missing"] == 3
    out, graph = run_pp("pad_to_shape((4,), pad_value=-1, key='x')", {"x": np.array([1, 2], np.int32)})
    np.testing.assert_array_equal(out["x"], [1, 2, -1, -1])
    np.testing.assert_array_equal(graph["x"], [1, 2, -1, -1])
    out, _ = run_pp(
        "reshape((2, 3), key='x')|squeeze_last_dim(key='y')", {"x": np.arange(6), "y": np.zeros((2, 1))}
    )
    assert out["x"].shape == (2, 3) and out["y"].shape == (2,)
    out, _ = run_pp("concat(['a', 'b'], outkey='ab', axis=0)", {"a": np.array([1]), "b": np.array([2, 3])})
    np.testing.assert_array_equal(out["ab"], [1, 2, 3])


def _pil_bytes(fmt):
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.full((5, 6, 3), 77, np.uint8)).save(buf, format=fmt)
    return buf.getvalue()


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "BMP", "WEBP"])
def test_byte_check_accepts_complete_files_and_rejects_truncated(fmt):
    try:
        data = _pil_bytes(fmt)
    except (KeyError, OSError):
        pytest.skip(f"PIL cannot write {fmt} here")
    assert image_bytes_problem(tf.constant(data)).numpy() == b""
    out = get_preprocess_fn("decode")({"image": data, "image/path": "x"})
    assert out["image"].shape == (5, 6, 3)
    cut = data[: len(data) // 2] if fmt != "BMP" else data[:-10]
    assert b"truncated" in image_bytes_problem(tf.constant(cut)).numpy()
