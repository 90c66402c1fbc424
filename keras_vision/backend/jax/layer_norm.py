"""Layer normalization with a hand-written backward pass (`jax.custom_vjp`).

Same forward numerics as `keras_vision.layers.LayerNorm` (flax): float32 statistics,
"fast variance" E[x^2] - E[x]^2 clamped at 0, result cast back to the input dtype.

Why a custom VJP: the autodiff backward of the normalization is a chain of
broadcasts and reductions over the (mean, variance, rsqrt) graph; inside a whole
ViT training step XLA:CPU fuses it poorly, and it was the largest single cost of the
Keras/JAX step on CPU (see docs/performance.md). The closed form

    xhat = (x - mean) * rstd,   g' = g * scale
    dx     = rstd * (g' - mean(g') - xhat * mean(g' * xhat))
    dscale = sum(g * xhat),     dbias = sum(g)      (over all but the last axis)

needs two row reductions and keeps only x, mean and rstd from the forward pass
(x in its own dtype: half the residual memory under bfloat16).
"""

import functools

import jax
import jax.numpy as jnp


def _stats(x32, epsilon):
    mean = jnp.mean(x32, axis=-1, keepdims=True)
    mean_sq = jnp.mean(jnp.square(x32), axis=-1, keepdims=True)
    var = jnp.maximum(mean_sq - jnp.square(mean), 0.0)
    return mean, jax.lax.rsqrt(var + epsilon)


def _forward(x, scale, bias, epsilon):
    x32 = x.astype(jnp.float32)
    mean, rstd = _stats(x32, epsilon)
    mul = rstd if scale is None else rstd * scale.astype(jnp.float32)
    y = (x32 - mean) * mul
    if bias is not None:
        y = y + bias.astype(jnp.float32)
    return y.astype(x.dtype), (mean, rstd)


@functools.partial(jax.custom_vjp, nondiff_argnums=(3,))
def _layer_norm(x, scale, bias, epsilon):
    return _forward(x, scale, bias, epsilon)[0]


def _layer_norm_fwd(x, scale, bias, epsilon):
    y, (mean, rstd) = _forward(x, scale, bias, epsilon)
    return y, (x, mean, rstd, scale, bias)


def _layer_norm_bwd(epsilon, residuals, g):
    x, mean, rstd, scale, bias = residuals
    g32 = g.astype(jnp.float32)
    xhat = (x.astype(jnp.float32) - mean) * rstd
    batch_axes = tuple(range(x.ndim - 1))
    dscale = dbias = None
    if scale is not None:
        dscale = jnp.sum(g32 * xhat, axis=batch_axes).astype(scale.dtype)
        g32 = g32 * scale.astype(jnp.float32)
    if bias is not None:
        dbias = jnp.sum(g.astype(jnp.float32), axis=batch_axes).astype(bias.dtype)
    dx = rstd * (g32 - jnp.mean(g32, axis=-1, keepdims=True)
                 - xhat * jnp.mean(g32 * xhat, axis=-1, keepdims=True))
    return dx.astype(x.dtype), dscale, dbias


_layer_norm.defvjp(_layer_norm_fwd, _layer_norm_bwd)


def layer_norm(x, scale=None, bias=None, epsilon=1e-6):
    """LayerNorm over the last axis of `x` (float32 statistics, flax numerics), custom VJP."""
    return _layer_norm(x, scale, bias, float(epsilon))
