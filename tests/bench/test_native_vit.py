"""The native-JAX baseline computes the same function as the Keras ViT (same weights)."""

import keras
import numpy as np
import pytest

pytestmark = pytest.mark.skipif(keras.backend.backend() != "jax", reason="the native baseline is JAX")

TINY = dict(variant="mu/8", width=64, depth=2, num_heads=4, mlp_dim=128, image_size=32, num_classes=10)


def _model(pool_type):
    from keras_vision.models import build_model

    keras.utils.set_random_seed(0)
    model = build_model("vit", pool_type=pool_type, **TINY)
    head = model.get_layer("head")  # non-zero head: otherwise every backbone gradient is 0
    head.kernel.assign(np.random.default_rng(1).normal(0, 0.1, head.kernel.shape).astype("float32"))
    return model


def _data(batch=4):
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (batch, 32, 32, 3)).astype("float32")
    y = np.eye(10, dtype="float32")[rng.integers(0, 10, batch)]
    return x, y


@pytest.mark.parametrize("pool_type", ["gap", "tok"])
def test_logits_and_gradients_match_keras(pool_type):
    import jax
    import jax.numpy as jnp

    from keras_vision.bench import native_vit
    from keras_vision.losses import softmax_xent

    model = _model(pool_type)
    x, y = _data()
    cfg = native_vit.vit_config_from_keras(model)
    params = native_vit.params_from_keras(model)
    assert set(params) == set(native_vit.param_shapes(cfg))
    assert {k: tuple(v.shape) for k, v in params.items()} == native_vit.param_shapes(cfg)

    native_logits = native_vit.apply(params, jnp.asarray(x), cfg)
    keras_logits = model(x, training=False)
    np.testing.assert_allclose(np.asarray(native_logits), np.asarray(keras_logits), atol=1e-5, rtol=1e-5)

    paths = [v.path for v in model.trainable_variables]

    def keras_loss(trainable):
        logits, _ = model.stateless_call(trainable, [v.value for v in model.non_trainable_variables], x,
                                         training=True)
        return softmax_xent(logits, y)

    keras_grads = jax.grad(keras_loss)([v.value for v in model.trainable_variables])
    native_grads = jax.grad(native_vit.loss_fn)(params, jnp.asarray(x), jnp.asarray(y), cfg)
    for path, g in zip(paths, keras_grads):
        scale = float(np.max(np.abs(g))) + 1e-6
        np.testing.assert_allclose(np.asarray(native_grads[path]), np.asarray(g), atol=1e-5 * scale + 1e-7,
                                   rtol=1e-4, err_msg=path)
    assert float(np.max(np.abs(keras_grads[paths.index("embedding/kernel")]))) > 0


def test_train_step_is_big_vision_adam():
    """One native step == the Keras step with big_vision's optimizer (same weights, same batch)."""
    import jax.numpy as jnp

    from keras_vision.bench import native_vit
    from keras_vision.bench.vit_bench import _compile_keras

    model = _model("gap")
    x, y = _data()
    cfg = native_vit.vit_config_from_keras(model)
    params = native_vit.params_from_keras(model)
    step = native_vit.make_train_step(cfg, lr=1e-3, wd=1e-4, grad_clip_norm=1.0, donate=False)
    new_params, opt_state, loss = step(params, native_vit.init_adam_state(params), jnp.asarray(x), jnp.asarray(y))
    _compile_keras(model, 10, lr=1e-3, wd=1e-4, grad_clip_norm=1.0)
    keras_loss = model.train_on_batch(x, y)
    np.testing.assert_allclose(float(loss), float(keras_loss), rtol=1e-5)
    assert int(opt_state["count"]) == 1
    for v in model.trainable_variables:
        if v.path.endswith("key/bias"):
            # Softmax is shift-invariant: this gradient is 0 up to rounding, which Adam
            # normalises into +-lr steps of arbitrary sign in both implementations.
            continue
        # Adam's first step is ~lr * sign(g): where |g| is near eps a rounding-level
        # gradient difference moves the update by a fraction of lr.
        diff = np.abs(np.asarray(new_params[v.path]) - v.numpy())
        assert diff.max() < 0.1 * 1e-3 and np.mean(diff > 2e-6) < 1e-3, v.path


def test_rejects_unsupported_pooling():
    from keras_vision.bench import native_vit

    with pytest.raises(ValueError, match="Unknown pooling 'map'"):
        native_vit.vit_config_from_keras(_model("map"))
