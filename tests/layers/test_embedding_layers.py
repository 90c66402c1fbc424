"""PatchEmbedding, PositionEmbedding, SinCos2DPositionEmbedding, ClassToken."""

import numpy as np
import pytest
from keras import ops

from keras_vision.layers import ClassToken
from keras_vision.layers import PatchEmbedding
from keras_vision.layers import PositionEmbedding
from keras_vision.layers import SinCos2DPositionEmbedding
from keras_vision.layers import posemb_sincos_2d
from keras_vision.layers import resample_posemb_align_corners
from keras_vision.testing import run_layer_test


def _np_patchify(images, kernel, bias):
    b, h, w, c = images.shape
    ph, pw = kernel.shape[:2]
    x = images[:, : h // ph * ph, : w // pw * pw]
    x = x.reshape(b, h // ph, ph, w // pw, pw, c).transpose(0, 1, 3, 2, 4, 5)
    return np.einsum("bijhwc,hwcd->bijd", x, kernel) + bias


@pytest.mark.multibackend
def test_patch_embedding_is_valid_strided_conv(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.normal(size=(2, 30, 36, 3)).astype("float32")
    layer = PatchEmbedding(hidden_dim=16, patch_size=(8, 6), name="embedding")
    out = layer(images)
    layer.bias.assign(rng.normal(size=(16,)).astype("float32"))
    assert tuple(layer.kernel.shape) == (8, 6, 3, 16)
    assert [v.path for v in layer.weights] == ["embedding/kernel", "embedding/bias"]
    out = ops.convert_to_numpy(layer(images))
    assert out.shape == (2, 3, 6, 16)  # the remainder rows are dropped ("VALID")
    ref = _np_patchify(images, ops.convert_to_numpy(layer.kernel), ops.convert_to_numpy(layer.bias))
    np.testing.assert_allclose(out, ref, atol=1e-5)
    run_layer_test(layer, images, tmp_path, expected_output_shape=(2, 3, 6, 16))
    run_layer_test(PatchEmbedding(8, 4), images[:, :16, :16], tmp_path, expected_output_shape=(2, 4, 4, 8))


@pytest.mark.multibackend
def test_position_embedding_adds_and_resamples(tmp_path):
    rng = np.random.default_rng(1)
    grid = rng.normal(size=(2, 4, 4, 8)).astype("float32")
    layer = PositionEmbedding(name="pos_embedding")
    out = ops.convert_to_numpy(layer(grid))
    table = ops.convert_to_numpy(layer.embeddings)
    assert table.shape == (1, 16, 8) and layer.grid_size == (4, 4)
    np.testing.assert_allclose(out, grid.reshape(2, 16, 8) + table, atol=1e-6)
    # init normal(1/sqrt(D))
    assert 0.15 < table.std() < 0.6
    # same on (B, N, D) tokens
    np.testing.assert_allclose(ops.convert_to_numpy(layer(grid.reshape(2, 16, 8))), out, atol=1e-6)
    with pytest.raises(ValueError, match=r"built for a \(4, 4\) grid"):
        layer(np.zeros((2, 5, 5, 8), "float32"))
    big = PositionEmbedding(grid_size=6)
    big(np.zeros((1, 6, 6, 8), "float32"))
    big.set_embeddings(table)
    np.testing.assert_allclose(
        ops.convert_to_numpy(big.embeddings), resample_posemb_align_corners(table, 6), atol=1e-6
    )
    run_layer_test(layer, grid, tmp_path, expected_output_shape=(2, 16, 8))
    run_layer_test(PositionEmbedding(), grid, tmp_path, expected_output_shape=(2, 16, 8))


@pytest.mark.multibackend
def test_sincos2d_layer(tmp_path):
    grid = np.random.default_rng(2).normal(size=(2, 3, 5, 32)).astype("float32")
    layer = SinCos2DPositionEmbedding()
    out = ops.convert_to_numpy(layer(grid))
    np.testing.assert_allclose(out, grid.reshape(2, 15, 32) + posemb_sincos_2d(3, 5, 32), atol=1e-6)
    assert not layer.weights
    tokens_layer = SinCos2DPositionEmbedding(grid_size=(3, 5))
    np.testing.assert_allclose(ops.convert_to_numpy(tokens_layer(grid.reshape(2, 15, 32))), out, atol=1e-6)
    run_layer_test(tokens_layer, grid.reshape(2, 15, 32), tmp_path, expected_output_shape=(2, 15, 32))
    run_layer_test(SinCos2DPositionEmbedding(), grid, tmp_path, expected_output_shape=(2, 15, 32))


@pytest.mark.multibackend
def test_class_token(tmp_path):
    tokens = np.random.default_rng(3).normal(size=(3, 4, 8)).astype("float32")
    layer = ClassToken(name="cls")
    out = ops.convert_to_numpy(layer(tokens))
    assert out.shape == (3, 5, 8)
    assert [v.path for v in layer.weights] == ["cls/cls"]
    np.testing.assert_allclose(out[:, 1:], tokens)
    np.testing.assert_allclose(out[:, 0], 0.0)  # zero init, as big_vision
    layer.cls.assign(np.arange(8, dtype="float32").reshape(1, 1, 8))
    np.testing.assert_allclose(ops.convert_to_numpy(layer(tokens))[:, 0], np.tile(np.arange(8.0), (3, 1)))
    run_layer_test(layer, tokens, tmp_path, expected_output_shape=(3, 5, 8))
    run_layer_test(ClassToken(), tokens, tmp_path, expected_output_shape=(3, 5, 8))
