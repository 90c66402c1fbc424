"""LayerNorm: flax numerics (f32 stats, eps 1e-6), names, mixed precision, serialization."""

import keras
import numpy as np
import pytest
from keras import ops
from np_reference import layer_norm as np_layer_norm

from keras_vision.layers import LayerNorm
from keras_vision.testing import run_layer_test


@pytest.mark.multibackend
def test_matches_reference_with_eps_1e6():
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(2, 5, 16)) * 3 + 1).astype("float32")
    layer = LayerNorm()
    layer(x)
    scale, bias = rng.normal(size=16), rng.normal(size=16)
    layer.scale.assign(scale.astype("float32"))
    layer.bias.assign(bias.astype("float32"))
    out = ops.convert_to_numpy(layer(x))
    np.testing.assert_allclose(out, np_layer_norm(x, scale, bias, 1e-6), atol=1e-5, rtol=0)
    # eps matters on (nearly) constant rows: 1e-6, not Keras' 1e-3.
    flat = np.linspace(-1e-3, 1e-3, 16, dtype="float32").reshape(1, 1, 16)
    layer2 = LayerNorm()
    np.testing.assert_allclose(
        ops.convert_to_numpy(layer2(flat)), np_layer_norm(flat, eps=1e-6), atol=1e-4, rtol=1e-4
    )
    assert [v.path.split("/")[-1] for v in layer.weights] == ["scale", "bias"]


@pytest.mark.multibackend
def test_no_bias_and_mixed_precision():
    layer = LayerNorm(use_bias=False, dtype="mixed_bfloat16")
    x = np.random.default_rng(1).normal(size=(2, 3, 8)).astype("float32")
    out = layer(x)
    assert [v.path.split("/")[-1] for v in layer.weights] == ["scale"]
    assert keras.backend.standardize_dtype(out.dtype) == "bfloat16"
    assert layer.scale.dtype == "float32"
    np.testing.assert_allclose(ops.convert_to_numpy(ops.cast(out, "float32")), np_layer_norm(x), atol=3e-2)


@pytest.mark.multibackend
def test_serialization(tmp_path):
    layer = LayerNorm(epsilon=1e-5, use_bias=False, name="ln")
    run_layer_test(layer, np.random.default_rng(2).normal(size=(2, 3, 8)), tmp_path, expected_output_shape=(2, 3, 8))
