"""keras_vision.testing: the harness passes sound layers/backbones/tasks and fails broken ones."""

import keras
import keras_hub
import numpy as np
import pytest
from keras import layers

from keras_vision.testing import assert_config_round_trip
from keras_vision.testing import assert_output_shape
from keras_vision.testing import assert_outputs_close
from keras_vision.testing import run_backbone_test
from keras_vision.testing import run_layer_test
from keras_vision.testing import run_task_test

PACKAGE = "kv_test_harness"


@keras.saving.register_keras_serializable(package=PACKAGE)
class Scale(layers.Layer):
    """x * factor * w, with a learned per-channel w."""

    def __init__(self, factor=1.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1],), initializer="random_normal", name="w")

    def call(self, x):
        return x * self.factor * self.w

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


@keras.saving.register_keras_serializable(package=PACKAGE)
class ScaleForgetsFactor(Scale):
    """Broken: get_config drops `factor`, so a clone silently uses factor=1."""

    def get_config(self):
        return layers.Layer.get_config(self)


@keras.saving.register_keras_serializable(package=PACKAGE)
class ScaleChangesConfig(Scale):
    """Broken: from_config does not give back the config it was given."""

    @classmethod
    def from_config(cls, config):
        return cls(**{**config, "factor": config["factor"] + 1})


@keras.saving.register_keras_serializable(package=PACKAGE)
class ScaleWithUnsavedState(Scale):
    """Broken: state the layer's outputs depend on, kept outside its weights and its config."""

    def build(self, input_shape):
        super().build(input_shape)
        self.offset = np.random.default_rng().normal(size=input_shape[-1]).astype("float32")

    def call(self, x):
        return super().call(x) + self.offset


@keras.saving.register_keras_serializable(package=PACKAGE)
class Blend(layers.Layer):
    """Two positional inputs: alpha * x + (1 - alpha) * y."""

    def __init__(self, alpha=0.5, **kwargs):
        super().__init__(**kwargs)
        self.alpha = alpha

    def call(self, x, y):
        return self.alpha * x + (1 - self.alpha) * y

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


@keras.saving.register_keras_serializable(package=PACKAGE)
class TinyBackbone(keras_hub.models.Backbone):
    """Dense + mean pool: (B, N, D) -> {"sequence_output": (B, N, H), "pooled": (B, H)}."""

    def __init__(self, hidden_dim=8, input_dim=4, dtype=None, **kwargs):
        inputs = keras.Input((None, input_dim), name="tokens")
        x = layers.Dense(hidden_dim, name="dense")(inputs)
        outputs = {"sequence_output": x, "pooled": layers.GlobalAveragePooling1D()(x)}
        super().__init__(inputs=inputs, outputs=outputs, dtype=dtype, **kwargs)
        self.hidden_dim, self.input_dim = hidden_dim, input_dim

    def get_config(self):
        return {**super().get_config(), "hidden_dim": self.hidden_dim, "input_dim": self.input_dim}


@keras.saving.register_keras_serializable(package=PACKAGE)
class TinyBackboneForgetsWidth(TinyBackbone):
    """Broken: get_config drops `hidden_dim` (a clone has other weight shapes)."""

    def get_config(self):
        config = super().get_config()
        del config["hidden_dim"]
        return config


@keras.saving.register_keras_serializable(package=PACKAGE)
class TinyClassifier(keras_hub.models.Task):
    """TinyBackbone pooled output -> Dense(num_classes)."""

    backbone_cls = TinyBackbone

    def __init__(self, backbone, num_classes=3, **kwargs):
        self.backbone = backbone
        self.head = layers.Dense(num_classes, name="head")
        inputs = backbone.input
        super().__init__(inputs=inputs, outputs=self.head(backbone(inputs)["pooled"]), **kwargs)
        self.num_classes = num_classes

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes}


def _x(shape=(2, 5, 4), seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


@pytest.mark.multibackend
def test_sound_layer_passes_and_returns_the_copies(tmp_path):
    layer = Scale(factor=3.0, name="scale")
    result = run_layer_test(layer, _x(), tmp_path, expected_output_shape=(2, 5, 4))
    assert result["clone"].factor == 3.0 and result["clone"] is not layer
    assert type(result["restored"].layers[-1]) is Scale
    np.testing.assert_allclose(np.asarray(result["outputs"]), _x() * 3.0 * np.asarray(layer.w), rtol=1e-6)
    # Without tmp_path the files go to a temporary folder.
    run_layer_test(Scale(factor=2.0), _x(), call_kwargs={})


def test_several_positional_inputs(tmp_path):
    result = run_layer_test(Blend(0.25), (_x(), _x(seed=1)), tmp_path, expected_output_shape=(2, 5, 4))
    np.testing.assert_allclose(np.asarray(result["outputs"]), 0.25 * _x() + 0.75 * _x(seed=1), rtol=1e-6)
    assert len(result["restored"].inputs) == 2


def test_layer_whose_get_config_drops_an_argument_fails(tmp_path):
    with pytest.raises(AssertionError, match="from_config clone outputs"):
        run_layer_test(ScaleForgetsFactor(factor=3.0), _x(), tmp_path)


def test_layer_whose_from_config_changes_the_config_fails(tmp_path):
    with pytest.raises(AssertionError, match=r"changed the config.*'factor': \(3.0, 4.0\)"):
        run_layer_test(ScaleChangesConfig(factor=3.0), _x(), tmp_path)


def test_layer_with_state_outside_its_weights_fails(tmp_path):
    with pytest.raises(AssertionError, match="from_config clone outputs"):
        run_layer_test(ScaleWithUnsavedState(), _x(), tmp_path)


def test_wrong_expected_shape_fails(tmp_path):
    with pytest.raises(AssertionError, match=r"shape \(2, 5, 4\), expected \(2, 5, 8\)"):
        run_layer_test(Scale(), _x(), tmp_path, expected_output_shape=(2, 5, 8))


def test_unregistered_layer_fails_to_reload(tmp_path):
    class Local(Scale):  # not registered: a .keras file cannot name it
        pass

    with pytest.raises(Exception, match="Local"):
        run_layer_test(Local(factor=2.0), _x(), tmp_path)


@pytest.mark.multibackend
def test_sound_backbone_and_task_pass(tmp_path):
    backbone = TinyBackbone(name="tiny")
    shapes = {"sequence_output": (2, 5, 8), "pooled": (2, 8)}
    result = run_backbone_test(backbone, _x(), tmp_path, expected_output_shape=shapes)
    assert isinstance(result["from_preset"], TinyBackbone) and isinstance(result["restored"], TinyBackbone)
    task = TinyClassifier(TinyBackbone(), num_classes=3)
    result = run_task_test(task, _x(), tmp_path, expected_output_shape=(2, 3))
    assert result["from_preset"].num_classes == 3
    assert run_backbone_test(TinyBackbone(), _x(), run_preset_test=False)["from_preset"] is None


def test_backbone_whose_get_config_drops_an_argument_fails(tmp_path):
    with pytest.raises(AssertionError, match=r"weight shapes \[\(4, 8\), \(8,\)\], expected \[\(4, 16\), \(16,\)\]"):
        run_backbone_test(TinyBackboneForgetsWidth(hidden_dim=16), _x(), tmp_path)


def test_backbone_output_keys_must_match(tmp_path):
    with pytest.raises(AssertionError, match=r"keys \['pooled', 'sequence_output'\], expected \['pooled'\]"):
        run_backbone_test(TinyBackbone(), _x(), tmp_path, expected_output_shape={"pooled": (2, 8)})


def test_assert_outputs_close_checks_structure_and_values():
    assert_outputs_close({"a": np.ones(2)}, {"a": np.ones(2) + 1e-7})
    with pytest.raises(AssertionError, match="structure differs"):
        assert_outputs_close({"a": np.ones(2)}, {"b": np.ones(2)})
    with pytest.raises(AssertionError, match=r"outputs\['a'\]"):
        assert_outputs_close({"a": np.ones(2)}, {"a": np.ones(2) + 1e-5})
    with pytest.raises(AssertionError):
        assert_outputs_close(np.ones(2), np.ones(3))


def test_assert_output_shape_and_config_round_trip_helpers():
    assert_output_shape([np.zeros((2, 3)), np.zeros((4,))], [(None, 3), (4,)])
    with pytest.raises(AssertionError, match=r"outputs\[1\]: shape \(4,\), expected \(5,\)"):
        assert_output_shape([np.zeros((2, 3)), np.zeros((4,))], [(None, 3), (5,)])
    with pytest.raises(TypeError, match="expected_shape='big'"):
        assert_output_shape(np.zeros(2), "big")
    clone = assert_config_round_trip(keras.layers.Dense(3, use_bias=False))
    assert clone.units == 3 and clone.use_bias is False
