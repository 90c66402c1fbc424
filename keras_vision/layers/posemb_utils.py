"""Position-embedding tables and resizers: sincos2d, align-corners (load time), half-pixel (run time).

- `posemb_sincos_2d`: big_vision's fixed 2-D sin-cos table (MoCo-v3 layout), numpy;
  `posemb_sincos_2d_ops` the same in `keras.ops` for a grid known only at run time.
- `resample_posemb_align_corners`: big_vision's load-time `vit.resample_posemb`
  (`scipy.ndimage.zoom(order=1)` = align-corners bilinear), numpy, any (h, w) grids.
- `resize_posemb_half_pixel`: half-pixel bilinear resize in `keras.ops` (FlexiViT's
  run-time resize; `antialias=True` = `jax.image.resize("linear")`,
  False = `tf.image.resize("bilinear")`).

The two resizers differ by up to half a grid step: keep each to its code path.
"""

import functools
import math

import numpy as np
from keras import ops

from keras_vision.api_export import keras_vision_export
from keras_vision.sizes import to_pair
from keras_vision.layers.pi_resize import resize_grid_ops


@keras_vision_export("keras_vision.layers.posemb_sincos_2d")
def posemb_sincos_2d(grid_h, grid_w, hidden_dim, temperature=10_000.0, dtype="float32"):
    """big_vision's fixed 2-D sin-cos position embedding, shape (1, grid_h * grid_w, D).

    Rows follow the row-major flattened (y, x) grid; columns are
    `[sin(x w), cos(x w), sin(y w), cos(y w)]` with `w = 1 / temperature**(arange(D/4) / (D/4 - 1))`.

    Args:
        grid_h: int, number of token rows.
        grid_w: int, number of token columns.
        hidden_dim: int, D; must be a multiple of 4 (and at least 8).
        temperature: float.
        dtype: numpy dtype of the result.

    Example:
        >>> posemb_sincos_2d(14, 14, 768).shape
        (1, 196, 768)

    Paper: "An Empirical Study of Training Self-Supervised Vision Transformers"
    (MoCo v3), Chen et al., 2021 (https://arxiv.org/abs/2104.02057).
    """
    omega = _sincos_omega(hidden_dim, temperature)
    y, x = np.mgrid[:grid_h, :grid_w]
    y = np.einsum("m,d->md", y.reshape(-1).astype(np.float32), omega)
    x = np.einsum("m,d->md", x.reshape(-1).astype(np.float32), omega)
    table = np.concatenate([np.sin(x), np.cos(x), np.sin(y), np.cos(y)], axis=1)
    return table.astype(dtype)[None]


def _sincos_omega(hidden_dim, temperature):
    if hidden_dim % 4 or hidden_dim < 8:
        raise ValueError(f"sincos2d position embedding needs hidden_dim a multiple of 4 (>= 8), got {hidden_dim}.")
    quarter = hidden_dim // 4
    omega = np.arange(quarter, dtype=np.float32) / np.float32(quarter - 1)
    return (1.0 / (np.float32(temperature) ** omega)).astype(np.float32)


def posemb_sincos_2d_ops(grid_h, grid_w, hidden_dim, temperature=10_000.0, dtype="float32"):
    """`posemb_sincos_2d` in `keras.ops`: the grid may be a run-time (traced) size.

    For token grids whose size is unknown when the graph is built (a model with
    `image_shape=(None, None, 3)` traced with unknown height/width); big_vision computes
    the table from the token grid's shape on every call.

    Args:
        grid_h: int or scalar int tensor, number of token rows.
        grid_w: int or scalar int tensor, number of token columns.
        hidden_dim: int, D (static); a multiple of 4, at least 8.
        temperature: float.
        dtype: dtype of the result.

    Returns:
        tensor (1, grid_h * grid_w, D).

    Example:
        >>> posemb_sincos_2d_ops(14, 14, 768).shape
        (1, 196, 768)
    """
    omega = ops.convert_to_tensor(_sincos_omega(int(hidden_dim), temperature))
    y, x = ops.meshgrid(ops.arange(grid_h, dtype="float32"), ops.arange(grid_w, dtype="float32"), indexing="ij")
    y = ops.reshape(y, (-1, 1)) * omega[None, :]
    x = ops.reshape(x, (-1, 1)) * omega[None, :]
    table = ops.concatenate([ops.sin(x), ops.cos(x), ops.sin(y), ops.cos(y)], axis=1)
    return ops.cast(table, dtype)[None]


@functools.lru_cache(maxsize=128)
def align_corners_resize_matrix(in_size, out_size):
    """(out_size, in_size) float64 matrix of 1-D align-corners linear interpolation.

    Output sample i sits at input coordinate `i * (in - 1) / (out - 1)` (0 when out == 1),
    exactly `scipy.ndimage.zoom(order=1)` with its default `grid_mode=False`.
    Cached and read-only.
    """
    in_size, out_size = int(in_size), int(out_size)
    if in_size < 1 or out_size < 1:
        raise ValueError(f"Resize sizes must be positive, got in_size={in_size}, out_size={out_size}.")
    step = (in_size - 1) / (out_size - 1) if out_size > 1 else 0.0
    coords = np.arange(out_size, dtype=np.float64) * step
    lo = np.clip(np.floor(coords).astype(int), 0, in_size - 1)
    hi = np.minimum(lo + 1, in_size - 1)
    frac = coords - lo
    matrix = np.zeros((out_size, in_size), np.float64)
    rows = np.arange(out_size)
    np.add.at(matrix, (rows, lo), 1.0 - frac)
    np.add.at(matrix, (rows, hi), frac)
    matrix.setflags(write=False)
    return matrix


def _grid_of(num_tokens, grid, what):
    if grid is not None:
        grid = to_pair(grid, what)
        if grid[0] * grid[1] != num_tokens:
            raise ValueError(f"{what}={grid} does not match the {num_tokens} position embeddings.")
        return grid
    side = math.isqrt(num_tokens)
    if side * side != num_tokens:
        raise ValueError(
            f"Cannot infer the grid of {num_tokens} position embeddings (not a square); pass {what}=(h, w)."
        )
    return (side, side)


@keras_vision_export("keras_vision.layers.resample_posemb_align_corners")
def resample_posemb_align_corners(posemb, new_grid, old_grid=None):
    """Resamples a learned position embedding (1, h*w, D) to another grid, align-corners bilinear.

    Reproduces big_vision's `vit.resample_posemb` (`scipy.ndimage.zoom(order=1)`, used when
    loading a checkpoint at another resolution), generalized to non-square grids.
    Computed in float64, returned in the input's float dtype.

    Args:
        posemb: array (1, h*w, D) (or (h*w, D)).
        new_grid: int or (new_h, new_w).
        old_grid: optional (h, w); inferred for square grids.

    Returns:
        numpy array (1, new_h*new_w, D) (rank as the input).

    Example:
        >>> resample_posemb_align_corners(np.zeros((1, 196, 768)), 24).shape
        (1, 576, 768)
    """
    posemb = np.asarray(posemb)
    squeeze = posemb.ndim == 2
    if squeeze:
        posemb = posemb[None]
    if posemb.ndim != 3 or posemb.shape[0] != 1:
        raise ValueError(f"Expected a position embedding of shape (1, N, D), got {posemb.shape}.")
    old_h, old_w = _grid_of(posemb.shape[1], old_grid, "old_grid")
    new_h, new_w = to_pair(new_grid, "new_grid")
    dtype = posemb.dtype if np.issubdtype(posemb.dtype, np.floating) else np.float32
    if (old_h, old_w) == (new_h, new_w):
        out = posemb.astype(dtype)
    else:
        grid = posemb[0].reshape(old_h, old_w, -1).astype(np.float64)
        a_h = align_corners_resize_matrix(old_h, new_h)
        a_w = align_corners_resize_matrix(old_w, new_w)
        grid = np.einsum("Hh,hwd,Ww->HWd", a_h, grid, a_w)
        out = grid.reshape(1, new_h * new_w, -1).astype(dtype)
    return out[0] if squeeze else out


@keras_vision_export("keras_vision.layers.resize_posemb_half_pixel")
def resize_posemb_half_pixel(posemb, new_grid, old_grid=None, antialias=False):
    """Half-pixel bilinear resize of a position embedding (1, h*w, D) in `keras.ops`.

    For run-time resizing inside a model (FlexiViT). `antialias=True` matches
    `jax.image.resize(..., "linear")` (big_vision FlexiViT), `antialias=False` matches
    `tf.image.resize(..., "bilinear")`; they differ only when shrinking.

    Args:
        posemb: tensor (1, h*w, D) with static shape.
        new_grid: int or (new_h, new_w).
        old_grid: optional (h, w); inferred for square grids.
        antialias: bool.

    Returns:
        tensor (1, new_h*new_w, D).

    Example:
        >>> resize_posemb_half_pixel(keras.ops.zeros((1, 49, 64)), 10).shape
        (1, 100, 64)
    """
    posemb = ops.convert_to_tensor(posemb)
    old_h, old_w = _grid_of(int(posemb.shape[1]), old_grid, "old_grid")
    new_h, new_w = to_pair(new_grid, "new_grid")
    dim = int(posemb.shape[-1])
    grid = ops.reshape(posemb, (1, old_h, old_w, dim))
    grid = resize_grid_ops(grid, (new_h, new_w), antialias=antialias)
    return ops.reshape(grid, (1, new_h * new_w, dim))
