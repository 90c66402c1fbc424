"""keras_vision.compat: every private-API wrapper works on the pinned stack and fails loudly without it."""

import re
import types

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_vision import compat
from keras_vision.compat import PrivateAPIError


def _loud(dist, name):
    """The error must name the missing attribute, the pinned version and what is installed."""
    return re.escape(name) + f".*{re.escape(dist)}=={re.escape(compat.PINNED[dist])}.*installed"


def test_pinned_versions_are_the_installed_ones():
    for dist, version in compat.PINNED.items():
        assert compat.installed_version(dist) == version, dist
    assert compat.installed_version("tensorflow") == tf.__version__
    assert compat.installed_version("no-such-distribution") == "not installed"


def _model():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    return model


# --- Keras ---------------------------------------------------------------------------


def test_symbolic_build_builds_the_compiled_loss():
    model = _model()
    compat.symbolic_build(model)(data_batch=(keras.KerasTensor((4, 3)), keras.KerasTensor((4, 2))))
    assert model.optimizer.built and model.built


def test_learning_rate_object_round_trip():
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)
    opt = keras.optimizers.SGD(schedule)
    assert compat.learning_rate_object(opt) is schedule
    other = keras.optimizers.schedules.ExponentialDecay(0.2, 10, 0.5)
    compat.set_learning_rate_object(opt, other)
    assert compat.learning_rate_object(opt) is other
    assert float(opt.learning_rate) == pytest.approx(0.2)  # what Keras now reads


def test_optimizer_variable_index_and_overwrite_flag():
    model = _model()
    model.optimizer.build(model.trainable_variables)
    kernel, bias = model.trainable_variables
    assert compat.optimizer_variable_index(model.optimizer, kernel) == 0
    assert compat.optimizer_variable_index(model.optimizer, bias) == 1
    assert compat.overwrites_with_gradient(model.optimizer, kernel) is False
    kernel.overwrite_with_gradient = True
    assert compat.overwrites_with_gradient(model.optimizer, kernel) is True


def test_variable_layout():
    assert compat.variable_layout(keras.Variable(np.zeros(3))) is None


def test_optimizer_hooks_are_checked_at_import():
    compat.check_private_methods(keras.optimizers.Optimizer, compat.KERAS_OPTIMIZER_HOOKS)
    with pytest.raises(PrivateAPIError, match=_loud("keras", "_backend_update_step")):
        compat.check_private_methods(object, {"_backend_update_step": ("grads",)})

    class Resigned:
        def _clip_gradients(self, gradients):  # a renamed parameter
            return gradients

    with pytest.raises(PrivateAPIError, match=r"_clip_gradients takes \('gradients',\), expected \('grads',\)"):
        compat.check_private_methods(Resigned, {"_clip_gradients": ("grads",)})


# --- TensorFlow, tf-models-official, TFDS ----------------------------------------------


def test_dataset_flat_types_and_shapes_feed_a_raw_dataset_op():
    ds = tf.data.Dataset.from_tensor_slices({"a": np.arange(3), "b": np.ones((3, 2), np.float32)})
    assert compat.dataset_flat_types(ds) == [tf.int64, tf.float32]
    assert [s.as_list() for s in compat.dataset_flat_shapes(ds)] == [[], [2]]


def test_augment_wrappers_on_tf_models_official():
    from official.vision.ops import augment

    image = tf.cast(tf.reshape(tf.range(8 * 8 * 3) % 251, (8, 8, 3)), tf.uint8)
    rotate = compat.angles_to_transform(augment, 0.0, 8.0, 8.0)
    np.testing.assert_allclose(np.ravel(rotate), [1, 0, 0, 0, 1, 0, 0, 0], atol=1e-6)
    shift = compat.translation_to_transform(augment, [2.0, -1.0])
    np.testing.assert_allclose(np.ravel(shift), [1, 0, -2, 0, 1, 1, 0, 0], atol=1e-6)
    cut = compat.fill_rectangle(augment, image, 4, 4, 1, 1, [128, 128, 128]).numpy()
    assert (cut[3:5, 3:5] == 128).all() and (cut[0] == image.numpy()[0]).all()


def test_disable_tfds_gcs():
    from tensorflow_datasets.core.utils import gcs_utils

    compat.disable_tfds_gcs(gcs_utils)
    assert gcs_utils._is_gcs_disabled is True


# --- every wrapper fails loudly on an object without the private attribute ---------------

EMPTY = types.SimpleNamespace()


@pytest.mark.parametrize("call, dist, name", [
    (lambda: compat.symbolic_build(EMPTY), "keras", "_symbolic_build"),
    (lambda: compat.learning_rate_object(EMPTY), "keras", "_learning_rate"),
    (lambda: compat.set_learning_rate_object(EMPTY, 0.1), "keras", "_learning_rate"),
    (lambda: compat.optimizer_variable_index(EMPTY, None), "keras", "_get_variable_index"),
    (lambda: compat.overwrites_with_gradient(EMPTY, None), "keras", "_overwrite_variable_with_gradient"),
    (lambda: compat.variable_layout(EMPTY), "keras", "_layout"),
    (lambda: compat.dataset_flat_types(EMPTY), "tensorflow", "_flat_types"),
    (lambda: compat.dataset_flat_shapes(EMPTY), "tensorflow", "_flat_shapes"),
    (lambda: compat.angles_to_transform(EMPTY, 0.0, 1, 1), "tf-models-official", "_convert_angles_to_transform"),
    (lambda: compat.translation_to_transform(EMPTY, [0, 0]), "tf-models-official",
     "_convert_translation_to_transform"),
    (lambda: compat.fill_rectangle(EMPTY, None, 0, 0, 1, 1, 0), "tf-models-official", "_fill_rectangle"),
    (lambda: compat.disable_tfds_gcs(types.ModuleType("gcs_utils")), "tensorflow-datasets", "_is_gcs_disabled"),
])
def test_missing_private_attribute_is_a_loud_error(call, dist, name):
    with pytest.raises(PrivateAPIError, match=_loud(dist, name)):
        call()


def test_setting_a_missing_attribute_does_not_create_it():
    module = types.ModuleType("gcs_utils")
    with pytest.raises(PrivateAPIError):
        compat.disable_tfds_gcs(module)
    assert not hasattr(module, "_is_gcs_disabled")


def test_no_other_module_touches_third_party_private_attributes():
    import pathlib

    import keras_vision

    root = pathlib.Path(keras_vision.__file__).parent
    private = ("_symbolic_build", "_learning_rate", "_get_variable_index", "_overwrite_variable_with_gradient",
               "_layout", "_flat_types", "_flat_shapes", "_convert_angles_to_transform",
               "_convert_translation_to_transform", "_fill_rectangle", "_is_gcs_disabled")
    # `obj._name` or a "_name" string (getattr / setattr).
    uses = re.compile(r"(\.|[\"'])(" + "|".join(private) + r")\b")
    found = [f"{p.relative_to(root)}: {m.group(2)}" for p in root.rglob("*.py") if p.name != "compat.py"
             for m in uses.finditer(p.read_text())]
    assert not found, found
