"""MultiHeadAttention: flax numerics and layout, cross-attention, masks, KV cache, QK-norm."""

import numpy as np
import pytest
from keras import ops
from np_reference import attention as np_attention
from np_reference import randomize
from np_reference import weights_by_name

from keras_vision.layers import MultiHeadAttention
from keras_vision.testing import run_layer_test


def _x(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


@pytest.mark.multibackend
def test_self_attention_matches_reference_and_flax_layout():
    x = _x((2, 7, 16))
    layer = MultiHeadAttention(num_heads=4, name="MultiHeadDotProductAttention_0")
    layer(x)
    randomize(layer)
    shapes = {v.path: tuple(v.shape) for v in layer.weights}
    assert shapes == {
        "MultiHeadDotProductAttention_0/query/kernel": (16, 4, 4),
        "MultiHeadDotProductAttention_0/query/bias": (4, 4),
        "MultiHeadDotProductAttention_0/key/kernel": (16, 4, 4),
        "MultiHeadDotProductAttention_0/key/bias": (4, 4),
        "MultiHeadDotProductAttention_0/value/kernel": (16, 4, 4),
        "MultiHeadDotProductAttention_0/value/bias": (4, 4),
        "MultiHeadDotProductAttention_0/out/kernel": (4, 4, 16),
        "MultiHeadDotProductAttention_0/out/bias": (16,),
    }
    out = ops.convert_to_numpy(layer(x))
    np.testing.assert_allclose(out, np_attention(x, x, weights_by_name(layer)), atol=1e-5)


def test_xavier_init_uses_flattened_fans():
    layer = MultiHeadAttention(num_heads=8)
    layer(_x((1, 2, 256)))
    kernel = ops.convert_to_numpy(layer.query_proj.kernel)
    # glorot_uniform over (256, 256): limit sqrt(6 / 512) = 0.108; per-axis fans would give ~0.4.
    assert np.abs(kernel).max() <= np.sqrt(6 / 512) + 1e-6
    assert np.abs(kernel).max() > 0.09
    np.testing.assert_allclose(ops.convert_to_numpy(layer.query_proj.bias), 0.0)


@pytest.mark.multibackend
def test_cross_attention_with_other_width_and_mask():
    q, kv = _x((2, 3, 16), 1), _x((2, 5, 8), 2)
    layer = MultiHeadAttention(num_heads=2, output_dim=12)
    layer(q, kv)
    randomize(layer, seed=3)
    assert tuple(layer.key_proj.kernel.shape) == (8, 2, 8)
    assert tuple(layer.out_proj.kernel.shape) == (2, 8, 12)
    mask = np.random.default_rng(4).random((2, 3, 5)) > 0.4
    mask[..., 0] = True
    out = ops.convert_to_numpy(layer(q, kv, attention_mask=mask))
    assert out.shape == (2, 3, 12)
    ref = np_attention(q, kv, weights_by_name(layer), mask=mask[:, None])
    np.testing.assert_allclose(out, ref, atol=1e-5)


@pytest.mark.multibackend
def test_causal_mask_and_kv_cache_decoding():
    x = _x((2, 6, 16), 5)
    layer = MultiHeadAttention(num_heads=2)
    layer(x)
    randomize(layer, seed=6)
    causal = np.tril(np.ones((6, 6), bool))[None, None]
    full = ops.convert_to_numpy(layer(x, use_causal_mask=True))
    np.testing.assert_allclose(full, np_attention(x, x, weights_by_name(layer), mask=causal), atol=1e-5)
    # Token-by-token decoding with a cache gives the same outputs.
    cache = ops.zeros((2, 2, 6, 2, 8))
    steps = []
    for t in range(6):
        out, cache = layer(x[:, t : t + 1], cache=cache, cache_update_index=t, use_causal_mask=True)
        steps.append(ops.convert_to_numpy(out))
    np.testing.assert_allclose(np.concatenate(steps, axis=1), full, atol=1e-5)
    # Prefill 4 tokens, then one more.
    cache = ops.zeros((2, 2, 6, 2, 8))
    pre, cache = layer(x[:, :4], cache=cache, cache_update_index=0, use_causal_mask=True)
    nxt, cache = layer(x[:, 4:5], cache=cache, cache_update_index=4, use_causal_mask=True)
    np.testing.assert_allclose(ops.convert_to_numpy(pre), full[:, :4], atol=1e-5)
    np.testing.assert_allclose(ops.convert_to_numpy(nxt), full[:, 4:5], atol=1e-5)
    with pytest.raises(ValueError, match="cache_update_index"):
        layer(x[:, :1], cache=cache)


@pytest.mark.multibackend
def test_qk_norm_and_no_bias():
    x = _x((2, 5, 16), 7)
    layer = MultiHeadAttention(num_heads=2, use_bias=False, qk_norm=True, output_use_bias=True)
    layer(x)
    randomize(layer, seed=8)
    names = sorted(v.path.split("/", 1)[1] for v in layer.weights)
    assert names == sorted(
        [
            "query/kernel",
            "key/kernel",
            "value/kernel",
            "out/kernel",
            "out/bias",
            "query_ln/scale",
            "key_ln/scale",
        ]
    )
    out = ops.convert_to_numpy(layer(x))
    ref = np_attention(x, x, weights_by_name(layer), qk_norm_eps=1e-6)
    np.testing.assert_allclose(out, ref, atol=1e-4)
    plain = MultiHeadAttention(num_heads=2, use_bias=False, output_use_bias=False)
    plain(x)
    assert all(not v.path.endswith("bias") for v in plain.weights)


def test_errors():
    with pytest.raises(ValueError, match="not divisible by num_heads=3"):
        MultiHeadAttention(num_heads=3)(_x((1, 2, 16)))


@pytest.mark.multibackend
def test_serialization(tmp_path):
    layer = MultiHeadAttention(num_heads=2, qk_norm=True, use_bias=False, dropout_rate=0.1, name="mha")
    run_layer_test(layer, _x((2, 5, 16)), tmp_path, expected_output_shape=(2, 5, 16))
