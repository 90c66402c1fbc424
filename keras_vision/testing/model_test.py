"""`run_backbone_test` and `run_task_test`: the standard checks of a KerasHub Backbone or Task."""

import keras_hub

from keras_vision.testing.checks import assert_config_round_trip
from keras_vision.testing.checks import assert_keras_round_trip
from keras_vision.testing.checks import assert_output_shape
from keras_vision.testing.checks import assert_outputs_close
from keras_vision.testing.checks import assert_preset_round_trip
from keras_vision.testing.checks import assert_same_variable_paths
from keras_vision.testing.checks import copy_weights


def _run_model_test(model, input_data, loader, tmp_path, expected_output_shape, atol, run_preset_test):
    name = type(model).__name__
    outputs = model(input_data)
    if expected_output_shape is not None:
        assert_output_shape(outputs, expected_output_shape, what=f"{name} outputs")

    clone = assert_config_round_trip(model)
    assert_same_variable_paths(clone, model, what=f"{name} from_config clone variable paths")
    copy_weights(model, clone)
    assert_outputs_close(clone(input_data), outputs, atol=atol, what=f"{name} from_config clone outputs (same weights)")

    restored = assert_keras_round_trip(model, input_data, tmp_path, atol=atol)
    assert_same_variable_paths(restored, model, what=f"{name} variable paths after .keras reload")
    result = dict(outputs=outputs, clone=clone, restored=restored, from_preset=None)
    if run_preset_test:
        loaded = assert_preset_round_trip(model, input_data, loader or type(model), tmp_path, atol=atol)
        assert_same_variable_paths(loaded, model, what=f"{name} variable paths after preset reload")
        result["from_preset"] = loaded
    return result


def run_backbone_test(backbone, input_data, tmp_path=None, expected_output_shape=None, atol=1e-6,
                      run_preset_test=True):
    """Runs the standard checks of a KerasHub Backbone on the current backend; raises `AssertionError`.

    1. Forward pass `backbone(input_data)`, shapes checked against `expected_output_shape`.
    2. Config round trip: `from_config(get_config())` gives the same config, the same variable
       paths and, with the same weights, the same outputs.
    3. `.keras` save/load: same class, same variable paths, same outputs.
    4. Preset round trip (`save_to_preset`, then `keras_hub.models.Backbone.from_preset`, which
       finds the class from the preset's config): same class, variable paths and outputs.

    Args:
        backbone: the `keras_hub.models.Backbone` under test (its current weights are compared).
        input_data: what `backbone(...)` is called on (an array or a dict of arrays).
        tmp_path: a folder for the saved files; a temporary one when None.
        expected_output_shape: the output shape (a tuple, or a dict of tuples for dict outputs).
        atol: absolute tolerance of every output comparison (rtol is 0).
        run_preset_test: False skips step 4.

    Returns:
        A dict: "outputs", "clone", "restored" (the `.keras` reload) and "from_preset" (None
        when skipped), for the family's own extra assertions.

    Example:
        >>> run_backbone_test(ViTBackbone(**TINY), images, tmp_path,
        ...                   expected_output_shape={"pre_logits": (2, 32), ...})
    """
    return _run_model_test(
        backbone, input_data, keras_hub.models.Backbone, tmp_path, expected_output_shape, atol, run_preset_test
    )


def run_task_test(task, input_data, tmp_path=None, expected_output_shape=None, atol=1e-6, run_preset_test=True):
    """Runs the standard checks of a KerasHub Task (e.g. an image classifier); raises `AssertionError`.

    The same checks as `run_backbone_test` (forward shapes, config round trip with the same
    outputs, `.keras` and preset round trips); the preset is read back with the Task's own
    class (`type(task).from_preset`, as KerasHub asks), and every reloaded Task must hold a
    backbone of the original backbone's class.

    Args:
        task: the `keras_hub.models.Task` under test (its current weights are compared).
        input_data: what `task(...)` is called on.
        tmp_path: a folder for the saved files; a temporary one when None.
        expected_output_shape: the output shape (a tuple, or a dict of tuples).
        atol: absolute tolerance of every output comparison (rtol is 0).
        run_preset_test: False skips the preset round trip.

    Returns:
        A dict: "outputs", "clone", "restored" and "from_preset" (None when skipped).

    Example:
        >>> run_task_test(ViTImageClassifier(ViTBackbone(**TINY), num_classes=3), images, tmp_path,
        ...               expected_output_shape=(2, 3))
    """
    result = _run_model_test(task, input_data, None, tmp_path, expected_output_shape, atol, run_preset_test)
    for key in ("clone", "restored", "from_preset"):
        model = result[key]
        if model is not None and type(model.backbone) is not type(task.backbone):
            raise AssertionError(
                f"{key}: the Task holds a {type(model.backbone).__name__} backbone, "
                f"expected {type(task.backbone).__name__}"
            )
    return result
