"""Run-time position embeddings: sincos2d table and half-pixel resize matrices for grids known only at run time."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_vision.layers import SinCos2DPositionEmbedding
from keras_vision.layers import linear_resize_matrix
from keras_vision.layers.pi_resize import _linear_resize_matrix_ops
from keras_vision.layers.posemb_utils import posemb_sincos_2d_ops


@pytest.mark.multibackend
@pytest.mark.parametrize("grid,width", [((3, 5), 32), ((4, 4), 64)])
def test_sincos2d_ops_golden(golden, grid, width):
    expected = golden("vit_posemb_utils")[f"outputs/posemb_sincos_2d_{grid[0]}x{grid[1]}_w{width}"]
    table = ops.convert_to_numpy(posemb_sincos_2d_ops(*grid, width))
    assert table.shape == expected.shape
    np.testing.assert_allclose(table, expected, atol=1e-6, rtol=0)


@pytest.mark.multibackend
@pytest.mark.parametrize("antialias", [False, True])
@pytest.mark.parametrize("sizes", [(7, 4), (7, 7), (7, 28), (4, 1), (3, 5)])
def test_resize_matrix_ops_equals_numpy(sizes, antialias):
    old, new = sizes
    out = ops.convert_to_numpy(_linear_resize_matrix_ops(old, new, antialias, "float32"))
    np.testing.assert_allclose(out, linear_resize_matrix(old, new, antialias), atol=1e-6, rtol=0)


@pytest.mark.multibackend
def test_sincos2d_layer_in_a_graph_of_unknown_grid():
    """Traced with unknown height/width (a TF graph / SavedModel signature), the table is computed in the graph."""
    if keras.backend.backend() != "tensorflow":
        pytest.skip("only TensorFlow traces unknown spatial sizes")
    import tensorflow as tf  # only here: the one backend with shape-polymorphic graphs

    layer = SinCos2DPositionEmbedding()
    fn = tf.function(layer, input_signature=[tf.TensorSpec((None, None, None, 32))])
    for grid in ((3, 5), (4, 4), (1, 7)):
        x = np.random.default_rng(0).normal(size=(2, *grid, 32)).astype("float32")
        np.testing.assert_allclose(fn(x).numpy(), ops.convert_to_numpy(layer(x)), atol=1e-6, rtol=0)
