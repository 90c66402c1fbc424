import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_vision import evaluators
from keras_vision.evaluators import MeanEvaluator


def _ds(n):
    x = np.arange(n, dtype="float32")[:, None] * np.ones((1, 3), "float32")
    return tf.data.Dataset.from_tensor_slices({"image": x, "labels": (np.arange(n) % 3).astype("int32")})


def test_mean_of_per_example_metrics_excludes_padding():
    def pred(model, batch):
        return {"x": batch["image"][:, 0], "x2": batch["image"][:, 0] ** 2}

    ev = MeanEvaluator(_ds(7), batch_size=4, predict_fn=pred)  # 7 rows -> padded to 8
    out = dict(ev.run(model=None))
    np.testing.assert_allclose(out["x"], np.arange(7).mean())
    np.testing.assert_allclose(out["x2"], (np.arange(7) ** 2).mean())


def test_registered_predict_fn_by_name_with_a_model():
    inp = keras.Input((3,))
    # logits = one-hot at (x mod 3) is not expressible; use a fixed model: always class 0.
    model = keras.Model(inp, keras.layers.Dense(3, kernel_initializer="zeros", bias_initializer=keras.initializers.Constant([1.0, 0.0, 0.0]))(inp))
    out = dict(MeanEvaluator(_ds(9), batch_size=4, predict_fn="per_example_accuracy").run(model))
    np.testing.assert_allclose(out["accuracy"], 3 / 9)  # labels 0,1,2,0,1,2,...


def test_wrong_shape_and_registry():
    ev = MeanEvaluator(_ds(4), batch_size=4, predict_fn=lambda m, b: {"bad": np.zeros((4, 2))})
    with pytest.raises(ValueError, match="per-example metrics of shape"):
        list(ev.run(None))
    assert evaluators.get("mean") is MeanEvaluator
    with pytest.raises(ValueError, match="Unknown predict function"):
        MeanEvaluator(_ds(4), predict_fn="nope")
