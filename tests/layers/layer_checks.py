"""Shared checks for layer tests: config round-trip and `.keras` save/load."""

import keras
import numpy as np
from keras import ops


def check_config_round_trip(layer):
    config = layer.get_config()
    clone = layer.__class__.from_config(config)
    assert clone.get_config() == config
    return clone


def check_keras_save_load(layer, inputs, tmp_path, call_kwargs=None, atol=1e-6):
    """Wraps `layer` in a functional model, saves as .keras, reloads, compares outputs."""
    call_kwargs = call_kwargs or {}
    inputs = np.asarray(inputs)
    x = keras.Input(shape=inputs.shape[1:], batch_size=None)
    model = keras.Model(x, layer(x, **call_kwargs))
    expected = ops.convert_to_numpy(model(inputs))
    path = tmp_path / f"{layer.name}.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    got = ops.convert_to_numpy(restored(inputs))
    np.testing.assert_allclose(got, expected, atol=atol, rtol=0)
    assert type(restored.layers[-1]) is type(layer)
    return restored
