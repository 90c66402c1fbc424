"""`run_layer_test`: the standard checks of one Keras layer (forward, config round trip, `.keras`)."""

import keras
import numpy as np

from keras_vision.testing.checks import assert_config_round_trip
from keras_vision.testing.checks import assert_keras_round_trip
from keras_vision.testing.checks import assert_output_shape
from keras_vision.testing.checks import assert_outputs_close
from keras_vision.testing.checks import assert_same_variable_paths
from keras_vision.testing.checks import copy_weights


def _symbolic_input(array):
    # Float inputs take the default float dtype, as `keras.Input` does; ints and bools keep theirs.
    dtype = None if np.issubdtype(array.dtype, np.floating) else array.dtype.name
    return keras.Input(shape=array.shape[1:], dtype=dtype)


def run_layer_test(layer, input_data, tmp_path=None, call_kwargs=None, expected_output_shape=None, atol=1e-6):
    """Runs the standard checks of a layer on the current backend; raises `AssertionError` on a failure.

    1. Forward pass `layer(*inputs, **call_kwargs)`; its shapes are checked against
       `expected_output_shape` when given.
    2. Config round trip (before the first call too, for an unbuilt layer):
       `from_config(get_config())` gives the same config, the same variable paths and, with
       the layer's weights copied in, the same outputs.
    3. `.keras` save/load of the layer wrapped in a functional model: the reloaded model gives
       the same outputs and its last layer is of the layer's class.

    The layer's current weights are used as they are (randomise them first to make the
    comparisons meaningful for zero-initialised weights).

    Args:
        layer: the layer instance under test (built or not).
        input_data: a NumPy array (batch first), or a tuple of arrays passed as positional arguments.
        tmp_path: a folder for the `.keras` file; a temporary one when None.
        call_kwargs: keyword arguments of every call (e.g. `{"patch_size": 4}`); must be
            serializable constants, as they are baked into the saved functional model.
        expected_output_shape: the forward pass's output shape (a tuple, or a dict/list of tuples).
        atol: absolute tolerance of every output comparison (rtol is 0).

    Returns:
        A dict: "outputs" (of the forward pass), "clone" (the `from_config` copy), "restored"
        (the reloaded functional model).

    Example:
        >>> run_layer_test(LayerNorm(epsilon=1e-5), np.ones((2, 3, 8)), tmp_path,
        ...                expected_output_shape=(2, 3, 8))
    """
    call_kwargs = dict(call_kwargs or {})
    args = tuple(np.asarray(a) for a in (input_data if isinstance(input_data, tuple) else (input_data,)))
    name = type(layer).__name__

    if not layer.built:  # the config must round-trip before the first call too
        assert_config_round_trip(layer)
    outputs = layer(*args, **call_kwargs)
    if expected_output_shape is not None:
        assert_output_shape(outputs, expected_output_shape, what=f"{name} outputs")

    clone = assert_config_round_trip(layer)
    clone(*args, **call_kwargs)
    assert_same_variable_paths(clone, layer, what=f"{name} from_config clone variable paths")
    copy_weights(layer, clone)
    assert_outputs_close(
        clone(*args, **call_kwargs), layer(*args, **call_kwargs), atol=atol,
        what=f"{name} from_config clone outputs (same weights)",
    )

    inputs = [_symbolic_input(a) for a in args]
    model = keras.Model(inputs if len(inputs) > 1 else inputs[0], layer(*inputs, **call_kwargs))
    restored = assert_keras_round_trip(model, list(args) if len(args) > 1 else args[0], tmp_path, atol=atol)
    if type(restored.layers[-1]) is not type(layer):
        raise AssertionError(f".keras reload holds a {type(restored.layers[-1]).__name__}, expected {name}")
    return dict(outputs=outputs, clone=clone, restored=restored)
