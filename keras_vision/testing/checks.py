"""The single checks the test harness is made of: outputs, shapes, config, weights, `.keras`, presets.

Each check raises `AssertionError` naming what differs (never a bare `assert`, so the
checks also hold under `python -O`), and works on every Keras backend: values are
compared as NumPy arrays after `keras.ops.convert_to_numpy`.
"""

import contextlib
import pathlib
import tempfile

import keras
import numpy as np
from keras import ops


def to_numpy(outputs):
    """Converts a tensor, or a nested dict/list/tuple of tensors, to NumPy arrays of the same structure.

    Args:
        outputs: a backend tensor, a NumPy array, or a nest of them.

    Example:
        >>> to_numpy({"logits": keras.ops.ones((2, 3))})["logits"].shape
        (2, 3)
    """
    return keras.tree.map_structure(lambda t: np.asarray(ops.convert_to_numpy(t)), outputs)


def assert_outputs_close(actual, expected, atol=1e-6, rtol=0.0, what="outputs"):
    """Asserts two outputs (tensors or nests of them) have the same structure and close values.

    Args:
        actual: the outputs under test.
        expected: the reference outputs; dict keys and nesting must match `actual`.
        atol: absolute tolerance of `np.testing.assert_allclose`.
        rtol: relative tolerance (0 by default: a round trip should reproduce the values).
        what: a label for the error message (e.g. "outputs after .keras reload").

    Example:
        >>> assert_outputs_close({"a": np.ones(2)}, {"a": np.ones(2)})
    """
    actual, expected = to_numpy(actual), to_numpy(expected)
    got = keras.tree.flatten_with_path(actual)
    want = keras.tree.flatten_with_path(expected)
    if [p for p, _ in got] != [p for p, _ in want]:
        raise AssertionError(
            f"{what}: structure differs, got paths {[p for p, _ in got]}, expected {[p for p, _ in want]}"
        )
    for (path, a), (_, e) in zip(got, want):
        label = f"{what}{list(path) if path else ''}"
        np.testing.assert_allclose(a, e, atol=atol, rtol=rtol, err_msg=label)


def _is_shape(value):
    return isinstance(value, (tuple, list)) and all(d is None or isinstance(d, int) for d in value)


def assert_output_shape(outputs, expected_shape, what="outputs"):
    """Asserts the shapes of `outputs` (a tensor or a nest) equal `expected_shape`.

    Args:
        outputs: a tensor, or a dict/list/tuple of tensors.
        expected_shape: a shape tuple such as `(2, 16)` (None matches any size), or a dict/list of
            them mirroring `outputs`; a dict must name exactly the output keys.
        what: a label for the error message.

    Example:
        >>> assert_output_shape({"pre_logits": np.zeros((2, 8))}, {"pre_logits": (2, 8)})
    """
    if _is_shape(expected_shape):
        got = tuple(outputs.shape)
        want = tuple(expected_shape)
        if len(got) != len(want) or any(w is not None and g != w for g, w in zip(got, want)):
            raise AssertionError(f"{what}: shape {got}, expected {want}")
    elif isinstance(expected_shape, dict):
        if not isinstance(outputs, dict) or set(outputs) != set(expected_shape):
            keys = sorted(outputs) if isinstance(outputs, dict) else type(outputs).__name__
            raise AssertionError(f"{what}: keys {keys}, expected {sorted(expected_shape)}")
        for key, shape in expected_shape.items():
            assert_output_shape(outputs[key], shape, what=f"{what}[{key!r}]")
    elif isinstance(expected_shape, (tuple, list)):
        if not isinstance(outputs, (tuple, list)) or len(outputs) != len(expected_shape):
            raise AssertionError(f"{what}: {type(outputs).__name__} output, expected {len(expected_shape)} outputs")
        for i, (out, shape) in enumerate(zip(outputs, expected_shape)):
            assert_output_shape(out, shape, what=f"{what}[{i}]")
    else:
        raise TypeError(
            f"expected_shape={expected_shape!r}: expected a shape tuple or a dict/list of shape tuples"
        )


def assert_config_round_trip(obj):
    """Asserts `type(obj).from_config(obj.get_config()).get_config() == obj.get_config()`; returns the clone.

    Args:
        obj: a layer, model, loss, schedule... anything with `get_config`/`from_config`.

    Example:
        >>> clone = assert_config_round_trip(keras_vision.layers.LayerNorm(epsilon=1e-5))
    """
    config = obj.get_config()
    # A fresh get_config: from_config may deserialize nested configs in place (KerasHub Tasks do).
    clone = type(obj).from_config(obj.get_config())
    got = clone.get_config()
    if got != config:
        keys = sorted(set(config) | set(got), key=str)
        diff = {k: (config.get(k, "<missing>"), got.get(k, "<missing>")) for k in keys if config.get(k) != got.get(k)}
        raise AssertionError(
            f"{type(obj).__name__}.from_config(get_config()) changed the config (key: (before, after)): {diff}"
        )
    return clone


def assert_same_variable_paths(actual, expected, what="variable paths"):
    """Asserts two layers or models have the same variable paths, in the same order.

    Args:
        actual: the layer or model under test (e.g. a reloaded model).
        expected: the reference.
        what: a label for the error message.

    Example:
        >>> assert_same_variable_paths(keras.saving.load_model(path), model)
    """
    got, want = [v.path for v in actual.weights], [v.path for v in expected.weights]
    if got != want:
        raise AssertionError(f"{what}: {got}, expected {want}")


def copy_weights(source, target):
    """Copies the weights of `source` into `target` (both built), after checking their shapes match.

    Args:
        source: the layer or model whose weights are read.
        target: a layer or model of the same architecture (e.g. a `from_config` clone).

    Example:
        >>> copy_weights(layer, clone)
    """
    got = [tuple(v.shape) for v in target.weights]
    want = [tuple(v.shape) for v in source.weights]
    if got != want:
        raise AssertionError(
            f"{type(target).__name__} clone has weight shapes {got}, expected {want} (is an argument missing from "
            "get_config?)"
        )
    target.set_weights(source.get_weights())


def randomize_weights(model, seed=0, std=0.3):
    """Sets every weight of `model` to N(0, std) draws (seeded) and returns the model.

    Zero- or one-initialised parts (biases, norm scales, zero-init heads) hide wrong
    wiring in parity tests; random values everywhere make each weight matter.

    Example:
        >>> randomize_weights(ViTBackbone(**TINY), seed=1)
    """
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        variable.assign(rng.normal(0.0, std, variable.shape).astype(variable.dtype))
    return model


@contextlib.contextmanager
def _folder(tmp_path):
    """A new folder inside `tmp_path` (kept), or a temporary folder removed on exit when `tmp_path` is None."""
    if tmp_path is not None:
        # A fresh subfolder: several checks in one test never overwrite each other's files.
        yield pathlib.Path(tempfile.mkdtemp(dir=tmp_path, prefix="harness_"))
        return
    with tempfile.TemporaryDirectory() as folder:
        yield pathlib.Path(folder)


def assert_keras_round_trip(model, input_data, tmp_path=None, atol=1e-6):
    """Saves `model` as `.keras`, reloads it and asserts the same class and the same outputs; returns it.

    Args:
        model: a `keras.Model`.
        input_data: what `model(...)` is called on (an array, a list or a dict of arrays).
        tmp_path: a folder for the file; a temporary one when None.
        atol: absolute tolerance of the output comparison (rtol is 0).

    Example:
        >>> restored = assert_keras_round_trip(model, images, tmp_path)
    """
    expected = model(input_data)
    with _folder(tmp_path) as folder:
        path = folder / f"{model.name}.keras"
        model.save(path)
        restored = keras.saving.load_model(path)
    if type(restored) is not type(model):
        raise AssertionError(f".keras reload gave a {type(restored).__name__}, expected {type(model).__name__}")
    assert_outputs_close(restored(input_data), expected, atol=atol, what="outputs after .keras reload")
    return restored


def assert_preset_round_trip(model, input_data, loader, tmp_path=None, atol=1e-6):
    """Saves `model` with `save_to_preset`, reloads it with `loader.from_preset`; asserts class and outputs.

    Args:
        model: a KerasHub `Backbone` or `Task`.
        input_data: what `model(...)` is called on.
        loader: the class whose `from_preset` reads the folder back (e.g. `keras_hub.models.Backbone`,
            or the Task's own class).
        tmp_path: a folder for the preset; a temporary one when None.
        atol: absolute tolerance of the output comparison (rtol is 0).

    Example:
        >>> loaded = assert_preset_round_trip(backbone, images, keras_hub.models.Backbone, tmp_path)
    """
    expected = model(input_data)
    with _folder(tmp_path) as folder:
        preset = folder / f"{model.name}_preset"
        model.save_to_preset(str(preset))
        loaded = loader.from_preset(str(preset))
    if type(loaded) is not type(model):
        raise AssertionError(
            f"{loader.__name__}.from_preset gave a {type(loaded).__name__}, expected {type(model).__name__}"
        )
    assert_outputs_close(loaded(input_data), expected, atol=atol, what="outputs after preset reload")
    return loaded
