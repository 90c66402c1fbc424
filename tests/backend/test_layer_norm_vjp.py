"""The custom-VJP LayerNorm (JAX) equals the keras.ops formula, values and gradients."""

import keras
import numpy as np
import pytest

pytestmark = pytest.mark.skipif(keras.backend.backend() != "jax", reason="JAX kernel")


@pytest.mark.parametrize("use_scale,use_bias", [(True, True), (True, False), (False, False)])
def test_matches_autodiff_of_ops_formula(use_scale, use_bias):
    import jax
    import jax.numpy as jnp

    from keras_vision.backend.jax.layer_norm import layer_norm
    from keras_vision.backend.normalization import ops_layer_norm

    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(2.0, 3.0, (2, 5, 16)).astype("float32"))
    scale = jnp.asarray(rng.normal(size=16).astype("float32")) if use_scale else None
    bias = jnp.asarray(rng.normal(size=16).astype("float32")) if use_bias else None
    w = jnp.asarray(rng.normal(size=(2, 5, 16)).astype("float32"))

    def grads(fn):
        return jax.grad(lambda x, s, b: jnp.sum(fn(x, s, b, 1e-6) * w), argnums=(0, 1, 2))(x, scale, bias)

    np.testing.assert_allclose(layer_norm(x, scale, bias, 1e-6), ops_layer_norm(x, scale, bias, 1e-6), atol=1e-6)
    for got, want in zip(grads(layer_norm), grads(ops_layer_norm)):
        assert (got is None) == (want is None)
        if got is not None:
            np.testing.assert_allclose(got, want, atol=2e-5, rtol=1e-5)


def test_bfloat16_keeps_dtypes():
    import jax
    import jax.numpy as jnp

    from keras_vision.backend.jax.layer_norm import layer_norm

    x = jnp.linspace(-3, 3, 64, dtype=jnp.float32).reshape(4, 16).astype(jnp.bfloat16)
    scale = jnp.ones(16, jnp.float32)
    y = layer_norm(x, scale, None)
    assert y.dtype == jnp.bfloat16
    gx, gs = jax.grad(lambda x, s: jnp.sum(layer_norm(x, s, None).astype(jnp.float32) ** 2), argnums=(0, 1))(x, scale)
    assert gx.dtype == jnp.bfloat16 and gs.dtype == jnp.float32


def test_layer_uses_it_and_trains():
    """LayerNorm inside a jitted Keras fit step: gradients reach scale and bias."""
    from keras_vision.layers import LayerNorm

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(8), LayerNorm(), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    x = np.random.default_rng(0).normal(size=(16, 8)).astype("float32")
    y = x[:, :1] * 2
    before = [w.numpy().copy() for w in model.layers[1].weights]
    model.fit(x, y, epochs=2, verbose=0)
    after = [w.numpy() for w in model.layers[1].weights]
    assert all(np.max(np.abs(a - b)) > 0 for a, b in zip(after, before))
