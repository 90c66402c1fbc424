"""TransformerEncoderBlock: sequential (big_vision) and parallel (ViT-22B) vs numpy references."""

import numpy as np
import pytest
from keras import ops
from np_reference import encoder_block as np_encoder_block
from np_reference import randomize
from np_reference import weights_by_name

from keras_vision.layers import StochasticDepth
from keras_vision.layers import TransformerEncoderBlock
from keras_vision.testing import run_layer_test


def _x(shape=(2, 9, 16), seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


@pytest.mark.multibackend
def test_sequential_matches_reference_and_golden_names(golden):
    g = golden("vit_gap_learn")
    prefix = "params/Transformer/encoderblock_0/"
    params = {k[len(prefix) :]: v for k, v in g.items() if k.startswith(prefix)}
    layer = TransformerEncoderBlock(num_heads=2, intermediate_dim=128, name="encoderblock_0")
    x = g["outputs/with_posemb"]
    layer(x)
    names = {v.path[len("encoderblock_0/") :]: v for v in layer.weights}
    assert sorted(names) == sorted(params)
    for name, value in params.items():
        names[name].assign(value)
    out, inter = layer(x, return_intermediates=True)
    for key in ("sa", "+sa", "mlp", "+mlp"):
        np.testing.assert_allclose(
            ops.convert_to_numpy(inter[key]), g[f"outputs/encoder/block00/{key}"], atol=1e-5, rtol=0
        )
    np.testing.assert_allclose(ops.convert_to_numpy(out), g["outputs/encoder/block00/+mlp"], atol=1e-5)
    np.testing.assert_allclose(
        ops.convert_to_numpy(out), np_encoder_block(x, weights_by_name(layer)), atol=1e-5
    )


@pytest.mark.multibackend
def test_parallel_block_matches_handwritten_reference():
    x = _x()
    layer = TransformerEncoderBlock(num_heads=4, intermediate_dim=32, block_type="parallel")
    layer(x)
    randomize(layer, seed=1, scale=0.3)
    names = [v.path.split("/", 1)[1] for v in layer.weights]
    assert "LayerNorm_1/scale" not in names and "LayerNorm_0/scale" in names  # one shared LN
    out = ops.convert_to_numpy(layer(x))
    ref = np_encoder_block(x, weights_by_name(layer), block_type="parallel")
    np.testing.assert_allclose(out, ref, atol=1e-5)
    # ...and it is not the sequential formula.
    assert np.abs(out - np_encoder_block(x, {**weights_by_name(layer), "LayerNorm_1/scale": 1.0})).max() > 1e-3


@pytest.mark.multibackend
def test_vit22b_options_qk_norm_no_bias():
    x = _x(seed=2)
    layer = TransformerEncoderBlock(num_heads=4, intermediate_dim=32, block_type="parallel", qk_norm=True, use_bias=False)
    layer(x)
    randomize(layer, seed=3, scale=0.3)
    names = sorted(v.path.split("/", 1)[1] for v in layer.weights)
    assert names == sorted(
        [
            "LayerNorm_0/scale",
            "MultiHeadDotProductAttention_0/query/kernel",
            "MultiHeadDotProductAttention_0/key/kernel",
            "MultiHeadDotProductAttention_0/value/kernel",
            "MultiHeadDotProductAttention_0/out/kernel",
            "MultiHeadDotProductAttention_0/out/bias",
            "MultiHeadDotProductAttention_0/query_ln/scale",
            "MultiHeadDotProductAttention_0/key_ln/scale",
            "MlpBlock_0/Dense_0/kernel",
            "MlpBlock_0/Dense_0/bias",
            "MlpBlock_0/Dense_1/kernel",
            "MlpBlock_0/Dense_1/bias",
        ]
    )
    out = ops.convert_to_numpy(layer(x))
    ref = np_encoder_block(x, weights_by_name(layer), block_type="parallel", qk_norm_eps=1e-6)
    np.testing.assert_allclose(out, ref, atol=1e-4)


@pytest.mark.multibackend
def test_dropout_and_stochastic_depth_only_in_training():
    x = _x(seed=4)
    layer = TransformerEncoderBlock(num_heads=2, intermediate_dim=32, dropout_rate=0.3, stochastic_depth_rate=0.5)
    eval_a = ops.convert_to_numpy(layer(x, training=False))
    eval_b = ops.convert_to_numpy(layer(x))
    np.testing.assert_array_equal(eval_a, eval_b)
    train = ops.convert_to_numpy(layer(x, training=True))
    assert np.abs(train - eval_a).max() > 1e-3

    drop = StochasticDepth(0.5, seed=1)
    ones = np.ones((64, 3, 4), "float32")
    out = ops.convert_to_numpy(drop(ones, training=True))
    per_example = out.reshape(64, -1)
    assert set(np.unique(per_example)) <= {0.0, 2.0}
    assert np.all(per_example.min(1) == per_example.max(1))  # whole example kept or dropped
    assert 10 < (per_example[:, 0] == 0).sum() < 54
    np.testing.assert_array_equal(ops.convert_to_numpy(drop(ones)), ones)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        StochasticDepth(1.0)


def test_errors():
    with pytest.raises(ValueError, match="Unknown block_type 'fancy'"):
        TransformerEncoderBlock(num_heads=2, block_type="fancy")


@pytest.mark.multibackend
def test_serialization(tmp_path):
    layer = TransformerEncoderBlock(
        num_heads=2, intermediate_dim=32, block_type="parallel", qk_norm=True, use_bias=False,
        stochastic_depth_rate=0.1, dropout_rate=0.1, name="encoderblock_3",
    )
    run_layer_test(layer, _x(), tmp_path, expected_output_shape=(2, 9, 16))
    run_layer_test(StochasticDepth(0.2, seed=3), _x(), tmp_path, expected_output_shape=(2, 9, 16))
