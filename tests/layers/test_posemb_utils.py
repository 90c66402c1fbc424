"""Position-embedding helpers against big_vision's golden (vit_posemb_utils) and scipy."""

import numpy as np
import pytest
import scipy.ndimage
from keras import ops

from keras_vision.layers import align_corners_resize_matrix
from keras_vision.layers import linear_resize_matrix
from keras_vision.layers import posemb_sincos_2d
from keras_vision.layers import resample_posemb_align_corners
from keras_vision.layers import resize_posemb_half_pixel


@pytest.mark.parametrize("grid,width", [((3, 5), 32), ((4, 4), 64)])
def test_sincos2d_golden(golden, grid, width):
    g = golden("vit_posemb_utils")
    table = posemb_sincos_2d(*grid, width)
    expected = g[f"outputs/posemb_sincos_2d_{grid[0]}x{grid[1]}_w{width}"]
    assert table.shape == expected.shape and table.dtype == np.float32
    np.testing.assert_allclose(table, expected, atol=1e-6, rtol=0)


@pytest.mark.parametrize("new", [3, 6])
def test_resample_align_corners_golden(golden, new):
    g = golden("vit_posemb_utils")
    out = resample_posemb_align_corners(g["inputs/posemb_4x4"], new)
    expected = g[f"outputs/resample_posemb_4x4_to_{new}x{new}"]
    assert out.shape == expected.shape == (1, new * new, 64)
    np.testing.assert_allclose(out, expected, atol=1e-6, rtol=0)


@pytest.mark.parametrize("old,new", [((4, 6), (7, 3)), ((5, 5), (1, 9)), ((2, 3), (2, 3))])
def test_resample_matches_scipy_zoom_non_square(old, new):
    rng = np.random.default_rng(0)
    grid = rng.normal(size=(*old, 8))
    expected = scipy.ndimage.zoom(grid, (new[0] / old[0], new[1] / old[1], 1), order=1)
    out = resample_posemb_align_corners(grid.reshape(1, -1, 8), new, old_grid=old)
    np.testing.assert_allclose(out.reshape(*new, 8), expected, atol=1e-12)
    assert np.allclose(align_corners_resize_matrix(old[0], new[0]).sum(1), 1.0)


def test_resample_errors():
    with pytest.raises(ValueError, match="not a square"):
        resample_posemb_align_corners(np.zeros((1, 12, 8)), 4)
    with pytest.raises(ValueError, match="does not match"):
        resample_posemb_align_corners(np.zeros((1, 12, 8)), 4, old_grid=(3, 5))
    with pytest.raises(ValueError, match="multiple of 4"):
        posemb_sincos_2d(2, 2, 30)


@pytest.mark.multibackend
@pytest.mark.parametrize("antialias", [False, True])
def test_resize_half_pixel(antialias):
    rng = np.random.default_rng(1)
    table = rng.normal(size=(1, 49, 8)).astype("float32")
    for new in (10, 5):
        out = ops.convert_to_numpy(resize_posemb_half_pixel(table, new, antialias=antialias))
        a = linear_resize_matrix(7, new, antialias)
        expected = np.einsum("Hh,hwd,Ww->HWd", a, table[0].reshape(7, 7, 8), a).reshape(1, new * new, 8)
        np.testing.assert_allclose(out, expected, atol=1e-5)
    # Half-pixel and align-corners really differ (keep each to its code path).
    up_half = ops.convert_to_numpy(resize_posemb_half_pixel(table, 10, antialias=antialias))
    assert np.abs(up_half - resample_posemb_align_corners(table, 10)).max() > 1e-2


def test_resize_half_pixel_matches_jax_image_resize():
    jax = pytest.importorskip("jax")
    table = np.random.default_rng(2).normal(size=(1, 49, 8)).astype("float32")
    for new in (10, 5):
        expected = jax.image.resize(table[0].reshape(7, 7, 8), (new, new, 8), "linear")
        out = ops.convert_to_numpy(resize_posemb_half_pixel(table, new, antialias=True))
        np.testing.assert_allclose(out[0].reshape(new, new, 8), np.asarray(expected), atol=1e-5)
