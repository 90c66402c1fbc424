"""The analytic ViT FLOP count (MFU numerator) against XLA's cost analysis."""

import keras
import pytest

from keras_vision.bench import flops


def test_vit_s16_numbers():
    cfg = dict(image_shape=(224, 224, 3), patch_size=16, hidden_dim=384, num_layers=12, intermediate_dim=1536,
               num_classes=1000)
    assert flops.vit_forward_flops(pooling="gap", **cfg) == 9_148_053_504
    # With a [cls] token (197 tokens): the 220.7 GFLOP/step of the earlier measurements.
    tok_forward = flops.vit_forward_flops(pooling="tok", **cfg)
    assert flops.vit_step_flops(8, "train", pooling="tok", **cfg) == 3 * 8 * tok_forward
    assert round(flops.vit_step_flops(8, "train", pooling="tok", **cfg) / 1e9, 1) == 220.7
    with pytest.raises(ValueError, match="Unknown mode 'eval'"):
        flops.vit_step_flops(8, "eval", **cfg)


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="XLA cost analysis via JAX")
@pytest.mark.parametrize("mode", ["infer", "train"])
def test_formula_matches_xla_cost_analysis(mode):
    import jax
    import jax.numpy as jnp

    from keras_vision.bench import native_vit
    from keras_vision.bench import timing

    cfg = dict(image_shape=(32, 32, 3), patch_size=(4, 4), hidden_dim=128, num_layers=2, num_heads=4,
               intermediate_dim=512, pooling="gap", num_classes=10, layer_norm_epsilon=1e-6)
    params = native_vit.init_params(cfg)
    x = jnp.zeros((4, 32, 32, 3))
    y = jnp.zeros((4, 10))
    if mode == "infer":
        fn = jax.jit(lambda p, x: native_vit.apply(p, x, cfg))
        compiled = fn.lower(params, x).compile()
    else:
        fn = jax.jit(jax.grad(lambda p, x, y: native_vit.loss_fn(p, x, y, cfg)))
        compiled = fn.lower(params, x, y).compile()
    xla = timing.compiled_flops(compiled)
    analytic = flops.vit_step_flops(4, mode, **cfg)
    # XLA also counts layer norms, softmax, GELU and biases (a few % at this width).
    assert 0.97 < xla / analytic < 1.12, (xla, analytic)
