import numpy as np
import pytest
import tensorflow as tf

from keras_vision.data import builder
from keras_vision.data import get_preprocess_fn
from keras_vision.data import registry


def test_parse_op_literals():
    assert builder.parse_op("decode") == ("decode", (), {})
    assert builder.parse_op("value_range(-1, 1)") == ("value_range", (-1, 1), {})
    name, args, kwargs = builder.parse_op("onehot(1000, key='label', key_result=\"labels\", on=0.9)")
    assert (name, args, kwargs) == ("onehot", (1000,), {"key": "label", "key_result": "labels", "on": 0.9})
    assert builder.parse_op("resize((32, 48))")[1] == ((32, 48),)
    assert builder.parse_op("x(a=[1, 2], b={'k': None}, c=True)")[2] == {
        "a": [1, 2],
        "b": {"k": None},
        "c": True,
    }


def test_split_respects_quotes_and_brackets():
    pp = "decode|choice(key=['a|b', \"c|d\"])|keep('image', 'labels')||"
    assert builder.split_pp(pp) == [
        "decode",
        "choice(key=['a|b', \"c|d\"])",
        "keep('image', 'labels')",
        "",
        "",
    ]


def test_parse_pp_keeps_each_ops_text():
    """The one parser: training builds from it and the SavedModel export sorts its ops."""
    ops = builder.parse_pp("decode(precise=True)| resize((32, 48)) ||keep('image', 'labels')|")
    assert [op.text for op in ops] == ["decode(precise=True)", "resize((32, 48))", "keep('image', 'labels')"]
    assert ops[0] == builder.ParsedOp("decode(precise=True)", "decode", (), {"precise": True})
    assert (ops[1].name, ops[1].args, ops[1].kwargs) == ("resize", ((32, 48),), {})
    assert builder.parse_pp("") == [] and builder.parse_pp(None) == []
    with pytest.raises(TypeError, match="pp must be a string"):
        builder.parse_pp(3)
    # build_op takes a piece or a parsed op, with the same result.
    image = tf.constant(np.arange(48, dtype=np.uint8).reshape(4, 4, 3))
    from_text = builder.build_op("resize(2)")({"image": image})["image"]
    from_parsed = builder.build_op(builder.parse_pp("resize(2)")[0])({"image": image})["image"]
    np.testing.assert_array_equal(from_text.numpy(), from_parsed.numpy())


@pytest.mark.parametrize(
    "pp, fragment",
    [
        ("decode|resize(32", "resize(32"),
        ("decode|resize(size=)", "resize(size=)"),
        ("decode|resize(foo)", "`foo` is not a Python literal"),
        ("decode|a.b(1)", "a.b(1)"),
        ("decode|resize(*x)", "*args"),
        ("decode|keep('image)", "unclosed"),
    ],
)
def test_malformed_pieces_are_named(pp, fragment):
    with pytest.raises(ValueError, match="Malformed") as e:
        get_preprocess_fn(pp)
    assert fragment in str(e.value)


def test_unknown_op_lists_known_ops():
    with pytest.raises(ValueError) as e:
        get_preprocess_fn("decode|resize_smol(256)")
    msg = str(e.value)
    assert "'resize_smol'" in msg
    for op in ("resize_small", "central_crop", "tokenize", "randaug", "onehot"):
        assert op in msg


def test_bad_arguments_name_the_piece():
    with pytest.raises(ValueError, match=r"resize\(32, bogus=1\)"):
        get_preprocess_fn("resize(32, bogus=1)")
    with pytest.raises(ValueError, match="eos"):
        get_preprocess_fn("tokenize(8, eos='maybe', model='x')")


def test_missing_key_names_op_and_keys():
    fn = get_preprocess_fn("resize(8, key='img')")
    with pytest.raises(KeyError, match=r"resize.*'img'.*\['image'\]"):
        fn({"image": np.zeros((4, 4, 3), np.uint8)})


def test_empty_pp_is_identity_and_input_not_mutated():
    ex = {"image": np.ones((2, 2, 3), np.uint8)}
    out = get_preprocess_fn("")(ex)
    np.testing.assert_array_equal(out["image"], ex["image"])
    get_preprocess_fn("drop('image')")(ex)
    assert "image" in ex
    assert get_preprocess_fn(None)({"x": 1})["x"] == 1


def test_user_registered_op_with_in_key_out_key():
    @registry.register("times_for_test")
    @registry.in_key_out_key()
    def get_times(factor=2):
        return lambda x: x * factor

    try:
        fn = get_preprocess_fn("times_for_test(3, inkey='a', outkey='b')|times_for_test(key='a')")
        out = fn({"a": tf.constant([1, 2])})
        np.testing.assert_array_equal(out["b"], [3, 6])
        np.testing.assert_array_equal(out["a"], [2, 4])
        assert "times_for_test" in registry.known_ops()
        with pytest.raises(KeyError, match="already registered"):
            registry.register("times_for_test")(lambda: None)
    finally:
        registry.unregister("times_for_test")
    assert "times_for_test" not in registry.known_ops()


def test_temporary_ops():
    with registry.temporary_ops(add_one=lambda key="x": lambda d: {**d, key: d[key] + 1}):
        assert int(get_preprocess_fn("add_one|add_one")({"x": 1})["x"]) == 3
    with pytest.raises(ValueError, match="Unknown pp op 'add_one'"):
        get_preprocess_fn("add_one")


def test_rng_key_is_never_in_the_output():
    fn = get_preprocess_fn("flip_lr|keep('image')")
    out = fn({"image": np.zeros((2, 2, 3), np.uint8), registry.RNG_KEY: tf.constant([1, 2], tf.int64)})
    assert list(out) == ["image"]


def test_log_data(caplog):
    import logging

    with caplog.at_level(logging.INFO, logger="keras_vision.data.builder"):
        get_preprocess_fn("value_range(0, 1)", log_data="mydata")({"image": np.zeros((2, 3, 3), np.uint8)})
    assert "mydata" in caplog.text and "float32[2, 3, 3]" in caplog.text
