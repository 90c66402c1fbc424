"""PI-resize and half-pixel resize matrices against big_vision's golden and TF/JAX resizes."""

import numpy as np
import pytest
from keras import ops

from keras_vision.layers.pi_resize import (
    bilinear_resize_matrix,
    linear_resize_matrix,
    pi_resize_matrices,
    resample_patch_kernel,
    resample_patch_kernel_ops,
    resize_grid_ops,
)


@pytest.mark.parametrize("new", [8, 12, 32])
def test_resample_patch_kernel_golden(golden, new):
    g = golden("flexi_resample_patchemb")
    out = resample_patch_kernel(g["inputs/kernel_16x16"], (new, new))
    assert out.shape == (new, new, 3, 8) and out.dtype == np.float32
    # Measured 4.8e-7 (->8), 6.7e-6 (->12, |values| up to 6), 1.2e-6 (->32).
    np.testing.assert_allclose(out, g[f"outputs/kernel_16_to_{new}"], atol=1e-5, rtol=0)


@pytest.mark.multibackend
@pytest.mark.parametrize("new", [8, 12, 32])
def test_resample_patch_kernel_ops_golden(golden, new):
    g = golden("flexi_resample_patchemb")
    out = ops.convert_to_numpy(resample_patch_kernel_ops(ops.convert_to_tensor(g["inputs/kernel_16x16"]), new))
    np.testing.assert_allclose(out, g[f"outputs/kernel_16_to_{new}"], atol=1e-5, rtol=0)


def test_pinv_check_golden(golden):
    # big_vision's own check: a 16px patch against the 16px kernel gives the same token as
    # the TF-bilinear 32px patch against the PI-resized 32px kernel.
    g = golden("flexi_resample_patchemb")
    x16, x32 = g["outputs/pinv_check/x16"], g["outputs/pinv_check/x32_tf_bilinear"]
    k32 = resample_patch_kernel(g["inputs/kernel_16x16"], 32)
    token32 = np.einsum("hwc,hwcd->d", x32.astype(np.float64), k32.astype(np.float64))
    token16 = np.einsum("hwc,hwcd->d", x16.astype(np.float64), g["inputs/kernel_16x16"].astype(np.float64))
    # Tokens are up to ~50 in magnitude; float32 rounding of the kernel gives ~1e-5 abs.
    np.testing.assert_allclose(token32, g["outputs/pinv_check/token32"], atol=1e-4, rtol=1e-6)
    np.testing.assert_allclose(token32, token16, atol=1e-4, rtol=1e-6)
    # Our matrix reproduces TF's bilinear upsampling of the patch too.
    a = linear_resize_matrix(16, 32)
    np.testing.assert_allclose(np.einsum("Hh,hwc,Ww->HWc", a, x16, a), x32, atol=1e-6)


@pytest.mark.parametrize("old,new", [((4, 4), (8, 8)), ((4, 6), (7, 9)), ((5, 5), (16, 16))])
def test_pi_resize_invariance_upsampling(old, new):
    """Upsampling the patch and PI-resizing the kernel keeps token embeddings equal."""
    rng = np.random.default_rng(0)
    kernel = rng.normal(size=(*old, 3, 5))
    patches = rng.normal(size=(6, *old, 3))
    m = bilinear_resize_matrix(old, new)
    up = (m @ patches.reshape(6, -1, 3)).reshape(6, *new, 3)
    tokens = np.einsum("bhwc,hwcd->bd", patches, kernel)
    tokens_up = np.einsum("bhwc,hwcd->bd", up, resample_patch_kernel(kernel, new))
    np.testing.assert_allclose(tokens_up, tokens, atol=1e-10)


def test_pi_resize_downsampling_is_least_squares():
    """Downsampling has no exact solution; PI gives the min-norm least-squares kernel."""
    rng = np.random.default_rng(1)
    kernel = rng.normal(size=(8, 8, 1, 1))
    small = resample_patch_kernel(kernel, 6)[..., 0, 0].reshape(-1)
    m = bilinear_resize_matrix(8, 6)  # (36, 64)
    # Normal equations of min ||m.T @ small - kernel||: residual orthogonal to range(m.T).
    residual = m.T @ small - kernel[..., 0, 0].reshape(-1)
    np.testing.assert_allclose(m @ residual, 0.0, atol=1e-10)


def test_separable_pinv_equals_full_pinv():
    """kron of 1-D pseudo-inverses == big_vision's pinv of the full 2-D matrix."""
    p_h, p_w = pi_resize_matrices((5, 6), (3, 9))
    full = np.linalg.pinv(bilinear_resize_matrix((5, 6), (3, 9)).T)
    np.testing.assert_allclose(np.kron(p_h, p_w), full, atol=1e-12)


@pytest.mark.parametrize("old,new", [(16, 8), (16, 12), (7, 30), (7, 3), (5, 5)])
def test_resize_matrix_matches_tf_bilinear(old, new):
    tf = pytest.importorskip("tensorflow")
    rng = np.random.default_rng(2)
    x = rng.normal(size=(1, old, old + 1, 2)).astype(np.float32)
    ref = tf.image.resize(x, (new, new + 2), method="bilinear").numpy()
    out = ops.convert_to_numpy(resize_grid_ops(ops.convert_to_tensor(x), (new, new + 2), antialias=False))
    np.testing.assert_allclose(out, ref, atol=1e-5)


@pytest.mark.multibackend
@pytest.mark.parametrize("old,new", [((7, 7), (2, 2)), ((7, 7), (3, 5)), ((7, 7), (30, 30)), ((7, 7), (12, 12))])
def test_resize_grid_matches_jax_linear_antialias(old, new):
    jax = pytest.importorskip("jax")
    rng = np.random.default_rng(3)
    x = rng.normal(size=(1, *old, 4)).astype(np.float32)
    ref = np.asarray(jax.image.resize(x, (1, *new, 4), "linear"))  # antialias=True by default
    out = ops.convert_to_numpy(resize_grid_ops(ops.convert_to_tensor(x), new, antialias=True))
    np.testing.assert_allclose(out, ref, atol=1e-5)
    if min(n / o for n, o in zip(new, old)) >= 1:
        # Antialias only changes downsampling.
        plain = ops.convert_to_numpy(resize_grid_ops(ops.convert_to_tensor(x), new, antialias=False))
        np.testing.assert_allclose(plain, out, atol=1e-6)


def test_errors_name_bad_values():
    with pytest.raises(ValueError, match="HWIO"):
        resample_patch_kernel(np.zeros((4, 4, 3)), 8)
    with pytest.raises(ValueError, match=r"\(1, 2, 3\)"):
        resample_patch_kernel(np.zeros((4, 4, 3, 2)), (1, 2, 3))
