"""FlexiPositionEmbedding: run-time half-pixel resize of the learned grid (jax.image.resize parity)."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_vision.layers.posemb_utils import posemb_sincos_2d
from keras_vision.models.flexivit.flexi_position_embedding import FlexiPositionEmbedding


@pytest.mark.multibackend
@pytest.mark.parametrize("grid", [(7, 7), (5, 5), (2, 2), (15, 15), (3, 6)])
def test_matches_jax_image_resize_linear(grid):
    jax = pytest.importorskip("jax")
    layer = FlexiPositionEmbedding(grid_size=7)
    tokens = np.zeros((2, *grid, 8), "float32")
    out = ops.convert_to_numpy(layer(tokens))
    table = ops.convert_to_numpy(layer.embeddings).reshape(1, 7, 7, 8)
    # big_vision FlexiViT: jax.image.resize(pos_emb, (1, h, w, c), "linear") (antialias on).
    ref = np.asarray(jax.image.resize(table, (1, *grid, 8), "linear")).reshape(1, -1, 8)
    assert out.shape == (2, grid[0] * grid[1], 8)
    np.testing.assert_allclose(out, np.broadcast_to(ref, out.shape), atol=2e-6)


def test_native_grid_is_the_table_and_antialias_only_matters_when_shrinking():
    layer = FlexiPositionEmbedding(grid_size=(4, 4))
    x = np.zeros((1, 4, 4, 8), "float32")
    np.testing.assert_array_equal(ops.convert_to_numpy(layer(x)), ops.convert_to_numpy(layer.embeddings))
    plain = FlexiPositionEmbedding(grid_size=(4, 4), antialias=False)
    plain.build(x.shape)
    plain.embeddings.assign(layer.embeddings)
    up = np.zeros((1, 9, 9, 8), "float32")
    down = np.zeros((1, 2, 3, 8), "float32")
    np.testing.assert_allclose(ops.convert_to_numpy(plain(up)), ops.convert_to_numpy(layer(up)), atol=1e-6)
    assert np.abs(ops.convert_to_numpy(plain(down)) - ops.convert_to_numpy(layer(down))).max() > 1e-3


def test_sincos2d_table_is_resized_not_recomputed():
    layer = FlexiPositionEmbedding(grid_size=4, posemb="sincos2d")
    out = ops.convert_to_numpy(layer(np.zeros((1, 4, 4, 16), "float32")))
    np.testing.assert_allclose(out, posemb_sincos_2d(4, 4, 16), atol=1e-6)
    assert not layer.weights
    assert layer(np.zeros((1, 8, 8, 16), "float32")).shape == (1, 64, 16)


def test_errors_and_config_round_trip(tmp_path):
    with pytest.raises(ValueError, match="'rope'"):
        FlexiPositionEmbedding(posemb="rope")
    layer = FlexiPositionEmbedding(grid_size=(3, 5), antialias=False, name="pos_embedding")
    assert FlexiPositionEmbedding.from_config(layer.get_config()).get_config() == layer.get_config()
    inp = keras.Input((6, 10, 8))
    model = keras.Model(inp, layer(inp))
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    x = np.random.default_rng(0).normal(size=(1, 6, 10, 8)).astype("float32")
    np.testing.assert_allclose(ops.convert_to_numpy(loaded(x)), ops.convert_to_numpy(model(x)), atol=1e-6)
