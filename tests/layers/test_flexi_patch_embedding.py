"""FlexiPatchEmbedding: on-the-fly PI-resize, weight sharing across patch sizes, serialization."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_vision.layers.flexi_patch_embedding import FlexiPatchEmbedding
from keras_vision.layers.pi_resize import bilinear_resize_matrix
from keras_vision.layers.pi_resize import resample_patch_kernel
from keras_vision.testing import run_layer_test


def _np_patchify(images, kernel, bias):
    b, h, w, c = images.shape
    ph, pw = kernel.shape[:2]
    x = images[:, : h // ph * ph, : w // pw * pw]
    x = x.reshape(b, h // ph, ph, w // pw, pw, c).transpose(0, 1, 3, 2, 4, 5)
    return np.einsum("bijhwc,hwcd->bijd", x, kernel) + bias


@pytest.mark.multibackend
def test_matches_numpy_conv_at_each_patch_size():
    layer = FlexiPatchEmbedding(hidden_dim=8, patch_size=8)
    rng = np.random.default_rng(0)
    images = rng.normal(size=(2, 32, 32, 3)).astype("float32")
    layer(images)
    layer.bias.assign(rng.normal(size=(8,)).astype("float32"))
    kernel = ops.convert_to_numpy(layer.kernel)
    bias = ops.convert_to_numpy(layer.bias)
    for p in (8, 4, 16, (4, 8)):
        out = ops.convert_to_numpy(layer(images, patch_size=p))
        ref = _np_patchify(images, resample_patch_kernel(kernel, p), bias)
        np.testing.assert_allclose(out, ref, atol=2e-5, rtol=1e-5)
    assert layer(images).shape == (2, 4, 4, 8)
    assert layer(images, patch_size=16).shape == (2, 2, 2, 8)
    # 30 px at patch 8: the remainder is dropped (VALID), as in big_vision.
    assert layer(images[:, :30, :30], patch_size=8).shape == (2, 3, 3, 8)


@pytest.mark.multibackend
def test_upsampled_image_gives_same_tokens():
    """PI-resize invariance inside the layer: 2x bilinear image at 2x patch == original."""
    layer = FlexiPatchEmbedding(hidden_dim=6, patch_size=4)
    rng = np.random.default_rng(1)
    images = rng.normal(size=(2, 16, 16, 3))
    m = bilinear_resize_matrix(4, 8)
    # Upsample each 4x4 patch to 8x8 with the resize matrix (what tf.image.resize does per patch).
    patches = images.reshape(2, 4, 4, 4, 4, 3).transpose(0, 1, 3, 2, 4, 5).reshape(2, 4, 4, 16, 3)
    up = np.einsum("ij,bxyjc->bxyic", m, patches).reshape(2, 4, 4, 8, 8, 3)
    up = up.transpose(0, 1, 3, 2, 4, 5).reshape(2, 32, 32, 3)
    small = ops.convert_to_numpy(layer(images.astype("float32")))
    big = ops.convert_to_numpy(layer(up.astype("float32"), patch_size=8))
    np.testing.assert_allclose(big, small, atol=1e-4, rtol=1e-4)


def test_one_kernel_shared_by_functional_models_at_different_sizes():
    layer = FlexiPatchEmbedding(hidden_dim=4, patch_size=8, name="embedding")
    inp = keras.Input((32, 32, 3))
    m16 = keras.Model(inp, layer(inp, patch_size=16))
    m4 = keras.Model(inp, layer(inp, patch_size=4))
    assert m16.output_shape == (None, 2, 2, 4) and m4.output_shape == (None, 8, 8, 4)
    assert [id(v) for v in m16.weights] == [id(v) for v in m4.weights]
    assert tuple(layer.kernel.shape) == (8, 8, 3, 4)


def test_config_round_trip_and_save(tmp_path):
    layer = FlexiPatchEmbedding(hidden_dim=4, patch_size=(8, 6), name="embedding")
    x = np.random.default_rng(2).normal(size=(1, 24, 24, 3)).astype("float32")
    result = run_layer_test(layer, x, tmp_path, call_kwargs={"patch_size": (4, 4)}, expected_output_shape=(1, 6, 6, 4))
    assert result["restored"].output_shape == (None, 6, 6, 4)


def test_default_init_scale():
    layer = FlexiPatchEmbedding(hidden_dim=256, patch_size=8)
    layer.build((None, 32, 32, 3))
    std = float(np.std(ops.convert_to_numpy(layer.kernel)))
    assert abs(std - 1 / 16) < 0.005


def test_is_a_patch_embedding_with_a_stored_kernel_size():
    """`patch_size` is the size images are cut into (as for PatchEmbedding); the kernel is stored at base_patch_size."""
    from keras_vision.layers import PatchEmbedding

    layer = FlexiPatchEmbedding(hidden_dim=4, patch_size=16, base_patch_size=8)
    assert isinstance(layer, PatchEmbedding)
    x = np.random.default_rng(3).normal(size=(1, 32, 32, 3)).astype("float32")
    assert layer(x).shape == (1, 2, 2, 4) and tuple(layer.kernel.shape) == (8, 8, 3, 4)
    ref = _np_patchify(x, resample_patch_kernel(ops.convert_to_numpy(layer.kernel), 16), 0.0)
    np.testing.assert_allclose(ops.convert_to_numpy(layer(x)), ref, atol=2e-5, rtol=1e-5)
    config = layer.get_config()
    assert config["patch_size"] == (16, 16) and config["base_patch_size"] == (8, 8)
    assert FlexiPatchEmbedding.from_config(config).get_config() == config
    # A config saved before `base_patch_size` existed: the kernel is stored at patch_size.
    old = {k: v for k, v in config.items() if k not in ("base_patch_size", "use_bias")}
    assert FlexiPatchEmbedding.from_config(old).base_patch_size == (16, 16)
