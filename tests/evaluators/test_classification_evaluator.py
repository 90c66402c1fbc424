import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_vision import evaluators
from keras_vision.evaluators import ClassificationEvaluator

C = 4


def identity_model():
    """Outputs its input: feed 3 x one-hot(label) and the logits point at the label."""
    inp = keras.Input((C,))
    return keras.Model(inp, keras.layers.Identity()(inp))


def _ds(images, labels):
    return tf.data.Dataset.from_tensor_slices({"image": images.astype("float32"), "labels": labels.astype("float32")})


def test_model_that_outputs_the_label_has_prec1_one_and_known_loss():
    y = np.arange(10) % C
    onehot = np.eye(C)[y]
    ev = ClassificationEvaluator(_ds(3.0 * onehot, onehot), batch_size=4)  # 10 rows -> padded to 12
    out = dict(ev.run(identity_model()))
    assert out["prec@1"] == 1.0
    expected = -np.log(np.exp(3.0) / (np.exp(3.0) + C - 1))
    np.testing.assert_allclose(out["loss"], expected, rtol=1e-5)


def test_half_wrong_multihot_and_unlabelled_rows():
    logits = np.eye(C)[[0, 1, 2, 3, 0, 0]] * 5.0
    labels = np.array(
        [
            [1, 0, 0, 0],  # right
            [0, 0, 1, 0],  # wrong
            [0, 0, 1, 1],  # multi-hot, argmax 2 is one of them: right
            [1, 0, 0, 0],  # wrong
            [0, 0, 0, 0],  # no label: ignored
            [0, 0, 0, 0],  # no label: ignored
        ],
        "float32",
    )
    ev = ClassificationEvaluator(_ds(logits, labels), batch_size=4, loss_name="sigmoid_xent")
    out = dict(ev.run(identity_model()))
    assert out["prec@1"] == 0.5
    ls = lambda x: -np.logaddexp(0, -x)  # noqa: E731
    per_ex = -(labels * ls(logits) + (1 - labels) * ls(-logits)).sum(-1)
    np.testing.assert_allclose(out["loss"], per_ex[:4].mean(), rtol=1e-5)


def test_integer_labels_and_dict_outputs():
    y = np.array([0, 1, 2, 3, 1])
    inp = keras.Input((C,))
    model = keras.Model(inp, {"logits": keras.layers.Identity()(inp)})
    ds = tf.data.Dataset.from_tensor_slices({"image": np.eye(C, dtype="float32")[y], "labels": y})
    assert dict(ClassificationEvaluator(ds, batch_size=2).run(model))["prec@1"] == 1.0


def test_registry_and_from_config():
    assert evaluators.get("classification") is ClassificationEvaluator
    with pytest.raises(ValueError, match=r"Unknown evaluator type 'clasification'.*classification.*fewshot_lsr.*mean"):
        evaluators.get("clasification")
    y = np.eye(C)[np.arange(8) % C]
    config = {
        "input": {"batch_size": 3},
        "evals": {"val": {"type": "classification", "data": _ds(y, y), "log_steps": 7}},
    }
    (spec,) = evaluators.from_config(config)
    assert spec.name == "val" and spec.log_steps == 7 and spec.prefix == "val/"
    assert spec.evaluator.data.batch_size == 3  # from input.batch_size
    config["evals"]["val"]["bogus"] = 1
    with pytest.raises(ValueError, match=r"unknown argument\(s\) \['bogus'\].*accepts.*pp_fn"):
        evaluators.from_config(config)


def test_evaluator_callback_in_plain_fit():
    x = np.random.default_rng(0).normal(size=(32, C)).astype("float32")
    y = np.eye(C, dtype="float32")[x.argmax(1)]
    model = keras.Sequential([keras.Input((C,)), keras.layers.Dense(C)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="categorical_crossentropy")
    ev = ClassificationEvaluator(_ds(x, y), batch_size=8)
    cb = evaluators.EvaluatorCallback([("val", ev, 4)], verbose=False)
    train = tf.data.Dataset.from_tensor_slices((x, y)).repeat().batch(8)
    model.fit(train, epochs=5, steps_per_epoch=2, callbacks=[cb], verbose=0)
    steps = sorted({s for s, name, _ in cb.history})
    assert steps == [4, 8, 10]  # every 4 steps at epoch ends, plus the end of training
    assert {name for _, name, _ in cb.history} == {"val/prec@1", "val/loss"}
