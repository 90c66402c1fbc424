"""Half-pixel bilinear resize matrices and FlexiViT's pseudo-inverse (PI) kernel resize.

Everything a FlexiViT needs to change patch size without retraining:

- `linear_resize_matrix(in_size, out_size, antialias)`: the (out, in) matrix of 1-D
  half-pixel linear interpolation. With `antialias=False` it is exactly the matrix of
  `tf.image.resize(..., "bilinear")` (TF2: half-pixel centers, edge clamping); with
  `antialias=True` it is `jax.image.resize(..., "linear")` (the triangle kernel widens by
  in/out when downsampling; identical to the former when upsampling).
- `resample_patch_kernel(kernel_hwio, new_hw)`: PI-resize at load time (numpy, float64).
- `resample_patch_kernel_ops(kernel_hwio, new_hw)`: the same inside a model (keras.ops).
- `resize_grid_ops(x_bhwd, new_hw, antialias)`: run-time resize of a position-embedding
  grid (keras.ops).

2-D bilinear resizing is separable: the matrix acting on a row-major flattened (h, w)
grid is `kron(A_h, A_w)`. big_vision builds that (new_h*new_w, h*w) matrix by resizing
basis vectors with TensorFlow and takes `pinv` of its transpose; since
`pinv(kron(A, B)) = kron(pinv(A), pinv(B))` we only ever build and invert the small 1-D
matrices, which is exact, far cheaper for large patches and backend independent.

Paper: "FlexiViT: One Model for All Patch Sizes", Beyer et al., 2022
(https://arxiv.org/abs/2212.08013), section 3.4.
"""

import functools

import keras
import numpy as np
from keras import ops

from keras_vision.api_export import keras_vision_export
from keras_vision.sizes import to_pair


@keras_vision_export("keras_vision.layers.linear_resize_matrix")
@functools.lru_cache(maxsize=256)
def linear_resize_matrix(in_size, out_size, antialias=False):
    """The (out_size, in_size) float64 matrix of 1-D half-pixel linear resizing.

    Args:
        in_size: int, input length.
        out_size: int, output length.
        antialias: bool. False: `tf.image.resize(method="bilinear")` (no antialias).
            True: `jax.image.resize(method="linear")` (antialias on by default there):
            when downsampling the triangle kernel is stretched by in/out, so every input
            sample contributes. Both are identical when upsampling.

    Example:
        >>> linear_resize_matrix(2, 4)
        array([[1.  , 0.  ], [0.75, 0.25], [0.25, 0.75], [0.  , 1.  ]])

    The returned array is cached and must not be modified.
    """
    in_size, out_size = int(in_size), int(out_size)
    if in_size < 1 or out_size < 1:
        raise ValueError(f"Resize sizes must be positive, got in_size={in_size}, out_size={out_size}.")
    inv_scale = in_size / out_size
    kernel_scale = max(inv_scale, 1.0) if antialias else 1.0
    # Output pixel centre i + 0.5 maps to input coordinate (i + 0.5) * in / out - 0.5.
    sample = (np.arange(out_size, dtype=np.float64) + 0.5) * inv_scale - 0.5
    dist = np.abs(sample[:, None] - np.arange(in_size, dtype=np.float64)[None, :]) / kernel_scale
    weights = np.maximum(0.0, 1.0 - dist)
    # Renormalising the weights at the borders is the same as TF's edge clamping.
    weights /= weights.sum(axis=1, keepdims=True)
    weights.setflags(write=False)
    return weights


@keras_vision_export("keras_vision.layers.bilinear_resize_matrix")
def bilinear_resize_matrix(old_hw, new_hw, antialias=False):
    """The (new_h*new_w, old_h*old_w) matrix of 2-D half-pixel bilinear resizing.

    Acts on row-major flattened grids: `resized.reshape(-1) = M @ grid.reshape(-1)`.
    With `antialias=False` it equals the matrix big_vision builds from
    `tf.image.resize(basis_vector, new_hw, "bilinear")`.

    Args:
        old_hw: int or (height, width) of the input grid.
        new_hw: int or (height, width) of the output grid.
        antialias: see `linear_resize_matrix`.
    """
    (oh, ow), (nh, nw) = to_pair(old_hw, "old_hw"), to_pair(new_hw, "new_hw")
    return np.kron(linear_resize_matrix(oh, nh, antialias), linear_resize_matrix(ow, nw, antialias))


@functools.lru_cache(maxsize=256)
def _pinv_transposed(old, new):
    """(new, old) matrix P = pinv(A)^T of the 1-D no-antialias resize matrix A (new, old).

    The 2-D PI-resize is new_kernel = P_h @ kernel @ P_w^T per (in, out) channel pair:
    pinv(kron(A_h, A_w)^T) = kron(P_h, P_w).
    """
    p = np.linalg.pinv(linear_resize_matrix(old, new, False)).T
    p.setflags(write=False)
    return p


@keras_vision_export("keras_vision.layers.pi_resize_matrices")
def pi_resize_matrices(old_hw, new_hw):
    """The two 1-D factors (P_h (new_h, old_h), P_w (new_w, old_w)) of the PI-resize.

    `new_kernel[:, :, c, d] = P_h @ kernel[:, :, c, d] @ P_w.T`. float64, cached, read-only.
    """
    (oh, ow), (nh, nw) = to_pair(old_hw, "old_hw"), to_pair(new_hw, "new_hw")
    return _pinv_transposed(oh, nh), _pinv_transposed(ow, nw)


@keras_vision_export("keras_vision.layers.resample_patch_kernel")
def resample_patch_kernel(kernel_hwio, new_hw):
    """PI-resizes a patch-embedding kernel (HWIO) to patch size `new_hw` (numpy).

    Solves for the kernel `k'` that gives the same token as `k` on a bilinearly resized
    patch: <x, k> = <resize(x), k'>. Exact when upsampling; the least-squares
    (pseudo-inverse) solution when downsampling. Matches big_vision's
    `models/proj/flexi/vit.resample_patchemb` (max abs error 7e-6 on a 16x16 kernel).

    Args:
        kernel_hwio: array (patch_h, patch_w, in_channels, out_channels).
        new_hw: int or (height, width), the new patch size.

    Returns:
        numpy array (new_h, new_w, in_channels, out_channels) in the input's float dtype
        (computed in float64).

    Example:
        >>> k16 = np.random.normal(size=(16, 16, 3, 768)).astype("float32")
        >>> resample_patch_kernel(k16, 32).shape
        (32, 32, 3, 768)
    """
    kernel = np.asarray(kernel_hwio)
    if kernel.ndim != 4:
        raise ValueError(f"Expected a 4-D HWIO kernel, got shape {kernel.shape}.")
    new_hw = to_pair(new_hw, "new_hw")
    if tuple(kernel.shape[:2]) == new_hw:
        return kernel
    dtype = kernel.dtype if np.issubdtype(kernel.dtype, np.floating) else np.float32
    p_h, p_w = pi_resize_matrices(kernel.shape[:2], new_hw)
    out = np.einsum("Hh,hwcd,Ww->HWcd", p_h, kernel.astype(np.float64), p_w)
    return out.astype(dtype)


@keras_vision_export("keras_vision.layers.resample_patch_kernel_ops")
def resample_patch_kernel_ops(kernel_hwio, new_hw):
    """`resample_patch_kernel` in `keras.ops`, differentiable, for use inside a model.

    The 1-D factors depend only on the (static) sizes, so they enter the graph as
    constants; each compiled function therefore serves one patch size.

    Args:
        kernel_hwio: tensor (patch_h, patch_w, in_channels, out_channels) with static shape.
        new_hw: int or (height, width).
    """
    new_hw = to_pair(new_hw, "new_hw")
    old_hw = tuple(int(s) for s in kernel_hwio.shape[:2])
    if old_hw == new_hw:
        return kernel_hwio
    dtype = keras.backend.standardize_dtype(kernel_hwio.dtype)
    p_h, p_w = pi_resize_matrices(old_hw, new_hw)
    p_h = ops.convert_to_tensor(p_h.astype(np.float32), dtype=dtype)
    p_w = ops.convert_to_tensor(p_w.astype(np.float32), dtype=dtype)
    return ops.einsum("Hh,hwcd,Ww->HWcd", p_h, kernel_hwio, p_w)


def _static_size(size):
    """`size` as a Python int, or None when it is a run-time (traced) value."""
    if isinstance(size, (int, np.integer)):
        return int(size)
    try:
        return int(size)
    except (TypeError, ValueError):
        return None


def _linear_resize_matrix_ops(in_size, out_size, antialias, dtype):
    """`linear_resize_matrix(in_size, out_size, antialias)` in `keras.ops`, `out_size` a run-time value.

    Same formula (half-pixel centres, triangle kernel widened by in/out when shrinking
    with `antialias`, rows renormalised at the borders), evaluated in float32.
    """
    out_f = ops.cast(out_size, "float32")
    inv_scale = float(in_size) / out_f
    kernel_scale = ops.maximum(inv_scale, 1.0) if antialias else 1.0
    sample = (ops.arange(out_size, dtype="float32") + 0.5) * inv_scale - 0.5
    dist = ops.abs(sample[:, None] - ops.arange(in_size, dtype="float32")[None, :]) / kernel_scale
    weights = ops.maximum(0.0, 1.0 - dist)
    weights = weights / ops.sum(weights, axis=1, keepdims=True)
    return ops.cast(weights, dtype)


def _resize_matrix_ops(in_size, out_size, antialias, dtype):
    static = _static_size(out_size)
    if static is None:
        return _linear_resize_matrix_ops(in_size, out_size, antialias, dtype)
    return ops.convert_to_tensor(linear_resize_matrix(in_size, static, antialias).astype(np.float32), dtype=dtype)


@keras_vision_export("keras_vision.layers.resize_grid_ops")
def resize_grid_ops(x_bhwd, new_hw, antialias=True):
    """Half-pixel bilinear resize of a (batch, h, w, channels) grid in `keras.ops`.

    With `antialias=True` this is `jax.image.resize(x, shape, "linear")`, which FlexiViT
    uses to resize its position embedding at run time; `antialias=False` is
    `tf.image.resize(x, new_hw, "bilinear")`. The two differ only when downsampling.

    Args:
        x_bhwd: tensor (batch, h, w, channels) with static h, w.
        new_hw: int or (height, width); the sizes may be run-time scalar tensors (a
            token grid of unknown size while tracing), then the resize matrices are
            computed in the graph.
        antialias: bool.
    """
    if isinstance(new_hw, (int, np.integer)):
        new_hw = (int(new_hw), int(new_hw))
    if len(new_hw) != 2:
        raise ValueError(f"new_hw must be an int or a (height, width) pair, got {new_hw!r}.")
    static = tuple(_static_size(s) for s in new_hw)
    old_hw = tuple(int(s) for s in x_bhwd.shape[1:3])
    if None not in static:
        new_hw = to_pair(static, "new_hw")
        if old_hw == new_hw:
            return x_bhwd
    dtype = keras.backend.standardize_dtype(x_bhwd.dtype)
    a_h = _resize_matrix_ops(old_hw[0], new_hw[0], antialias, dtype)
    a_w = _resize_matrix_ops(old_hw[1], new_hw[1], antialias, dtype)
    return ops.einsum("Hh,bhwd,Ww->bHWd", a_h, x_bhwd, a_w)
