"""MAPHead and MLPBlock: big_vision golden values, references and serialization."""

import numpy as np
import pytest
from keras import ops
from np_reference import gelu_tanh
from np_reference import map_head as np_map_head
from np_reference import randomize
from np_reference import weights_by_name

from keras_vision.layers import MAPHead
from keras_vision.layers import MLPBlock
from keras_vision.testing import run_layer_test


@pytest.mark.multibackend
def test_map_head_golden(golden):
    g = golden("vit_map_learn")
    prefix = "params/MAPHead_0/"
    params = {k[len(prefix) :]: v for k, v in g.items() if k.startswith(prefix)}
    layer = MAPHead(num_heads=2, intermediate_dim=128, name="MAPHead_0")
    encoded = g["outputs/encoded"]
    layer(encoded)
    names = {v.path[len("MAPHead_0/") :]: v for v in layer.weights}
    assert sorted(names) == sorted(params)
    for name, value in params.items():
        names[name].assign(value)
    out = ops.convert_to_numpy(layer(encoded))
    np.testing.assert_allclose(out, g["outputs/head_input"], atol=1e-5, rtol=0)
    np.testing.assert_allclose(out, np_map_head(encoded, weights_by_name(layer)), atol=1e-5)


@pytest.mark.multibackend
def test_mlp_block_tanh_gelu_and_dropout(tmp_path):
    x = np.random.default_rng(0).normal(size=(2, 3, 8)).astype("float32")
    layer = MLPBlock(intermediate_dim=16, dropout_rate=0.5, name="MlpBlock_0")
    layer(x)
    randomize(layer)
    w = weights_by_name(layer)
    assert sorted(w) == ["Dense_0/bias", "Dense_0/kernel", "Dense_1/bias", "Dense_1/kernel"]
    ref = gelu_tanh(x @ w["Dense_0/kernel"] + w["Dense_0/bias"]) @ w["Dense_1/kernel"] + w["Dense_1/bias"]
    np.testing.assert_allclose(ops.convert_to_numpy(layer(x)), ref, atol=1e-5)
    assert np.abs(ops.convert_to_numpy(layer(x, training=True)) - ref).max() > 1e-3
    fresh = MLPBlock(output_dim=4)
    fresh(x)
    assert tuple(fresh.dense_0.kernel.shape) == (8, 32) and tuple(fresh.dense_1.kernel.shape) == (32, 4)
    assert np.abs(ops.convert_to_numpy(fresh.dense_0.bias)).max() < 1e-4  # normal(1e-6) init
    run_layer_test(layer, x, tmp_path, expected_output_shape=(2, 3, 8))
    run_layer_test(MLPBlock(16, name="mlp"), x, tmp_path, expected_output_shape=(2, 3, 8))


@pytest.mark.multibackend
def test_map_head_serialization(tmp_path):
    x = np.random.default_rng(1).normal(size=(2, 5, 16)).astype("float32")
    layer = MAPHead(num_heads=2, qk_norm=True, use_bias=False, name="map")
    restored = run_layer_test(layer, x, tmp_path, expected_output_shape=(2, 16))["restored"]
    assert restored.output.shape == (None, 16)
