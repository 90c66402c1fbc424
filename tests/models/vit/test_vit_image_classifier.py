"""ViTImageClassifier: head init, training with big_vision losses, serialization."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_vision.models import ViTBackbone
from keras_vision.models import ViTImageClassifier
from keras_vision.testing import run_task_test

TINY = dict(image_shape=(32, 32, 3), patch_size=8, hidden_dim=32, num_layers=1, num_heads=2, intermediate_dim=64)


def _data(n=8, classes=4, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.uniform(-1, 1, size=(n, 32, 32, 3)).astype("float32")
    labels = np.eye(classes, dtype="float32")[rng.integers(0, classes, n)]
    return images, labels


@pytest.mark.multibackend
def test_zero_init_head_gives_constant_logits():
    model = ViTImageClassifier(ViTBackbone(**TINY), num_classes=4, init_head_bias=-6.9)
    logits = ops.convert_to_numpy(model(_data()[0]))
    np.testing.assert_allclose(logits, -6.9, atol=1e-6)
    assert [v.path for v in model.head.weights] == ["head/kernel", "head/bias"]
    random_head = ViTImageClassifier(ViTBackbone(**TINY), num_classes=4, head_zeroinit=False)
    assert np.abs(ops.convert_to_numpy(random_head.head.kernel)).max() > 0
    with pytest.raises(ValueError, match="num_classes must be a positive int"):
        ViTImageClassifier(ViTBackbone(**TINY), num_classes=0)


@pytest.mark.multibackend
@pytest.mark.parametrize("loss", ["softmax_xent", "sigmoid_xent"])
def test_fit_with_big_vision_loss_names(loss):
    images, labels = _data()
    model = ViTImageClassifier(ViTBackbone(**TINY), num_classes=4, head_zeroinit=False)
    model.compile(loss=loss, optimizer=keras.optimizers.Adam(1e-3))
    before = model.evaluate(images, labels, verbose=0, return_dict=True)
    history = model.fit(images, labels, batch_size=4, epochs=3, verbose=0)
    after = model.evaluate(images, labels, verbose=0, return_dict=True)
    assert np.isfinite(history.history["loss"]).all()
    assert after["loss"] < before["loss"]
    # The loss is big_vision's: sigmoid_xent sums over classes.
    logits = ops.convert_to_numpy(model(images))
    if loss == "sigmoid_xent":
        p = 1 / (1 + np.exp(-logits))
        expected = -(labels * np.log(p) + (1 - labels) * np.log(1 - p)).sum(-1).mean()
    else:
        logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
        expected = -(labels * logp).sum(-1).mean()
    np.testing.assert_allclose(after["loss"], expected, rtol=1e-4)


@pytest.mark.multibackend
def test_default_compile_fits():
    images, labels = _data()
    model = ViTImageClassifier(ViTBackbone(**TINY), num_classes=4)
    history = model.fit(images, labels, batch_size=4, epochs=1, verbose=0)
    assert "accuracy" in history.history and np.isfinite(history.history["loss"]).all()


@pytest.mark.multibackend
def test_config_round_trip_keras_and_preset_save_load(tmp_path):
    model = ViTImageClassifier(
        ViTBackbone(**TINY, pooling="map"), num_classes=3, head_zeroinit=False, init_head_bias=-1.0
    )
    result = run_task_test(model, _data()[0], tmp_path, expected_output_shape=(8, 3))
    for key in ("clone", "restored", "from_preset"):
        assert isinstance(result[key], ViTImageClassifier), key
        assert result[key].init_head_bias == -1.0 and result[key].head_zeroinit is False, key