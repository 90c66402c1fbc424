"""Dispatch of layer normalization: the custom-VJP JAX kernel on JAX, `keras.ops` elsewhere."""

import keras
from keras import ops


def layer_norm(x, scale=None, bias=None, epsilon=1e-6):
    """flax-numerics LayerNorm over the last axis (float32 statistics, fast variance).

    Returns the result in `x`'s dtype. On JAX it runs `keras_vision.backend.jax.layer_norm`
    (hand-written backward pass, faster on XLA:CPU); elsewhere the same formula in
    `keras.ops`, differentiated by the backend.
    """
    if keras.backend.backend() == "jax":
        # Per-backend dispatch: the custom-VJP kernel imports jax, loaded only on JAX.
        from keras_vision.backend.jax.layer_norm import layer_norm as jax_layer_norm

        return jax_layer_norm(x, scale, bias, epsilon)
    return ops_layer_norm(x, scale, bias, epsilon)


def ops_layer_norm(x, scale=None, bias=None, epsilon=1e-6):
    """The same LayerNorm in `keras.ops` (any backend; autodiff backward)."""
    dtype = keras.backend.standardize_dtype(x.dtype)
    x = ops.cast(x, "float32")
    mean = ops.mean(x, axis=-1, keepdims=True)
    mean_sq = ops.mean(ops.square(x), axis=-1, keepdims=True)
    var = ops.maximum(mean_sq - ops.square(mean), 0.0)
    mul = ops.rsqrt(var + epsilon)
    if scale is not None:
        mul = mul * ops.cast(scale, "float32")
    y = (x - mean) * mul
    if bias is not None:
        y = y + ops.cast(bias, "float32")
    return ops.cast(y, dtype)
