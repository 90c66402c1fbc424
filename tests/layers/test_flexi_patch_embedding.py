"""FlexiPatchEmbedding: on-the-fly PI-resize, weight sharing across patch sizes, serialization."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_vision.layers.flexi_patch_embedding import FlexiPatchEmbedding
from keras_vision.layers.pi_resize import bilinear_resize_matrix
from keras_vision.layers.pi_resize import resample_patch_kernel


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
    clone = FlexiPatchEmbedding.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    inp = keras.Input((24, 24, 3))
    model = keras.Model(inp, layer(inp, patch_size=(4, 4)))
    x = np.random.default_rng(2).normal(size=(1, 24, 24, 3)).astype("float32")
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(ops.convert_to_numpy(loaded(x)), ops.convert_to_numpy(model(x)), atol=1e-6)
    assert loaded.output_shape == (None, 6, 6, 4)


def test_default_init_scale():
    layer = FlexiPatchEmbedding(hidden_dim=256, patch_size=8)
    layer.build((None, 32, 32, 3))
    std = float(np.std(ops.convert_to_numpy(layer.kernel)))
    assert abs(std - 1 / 16) < 0.005
