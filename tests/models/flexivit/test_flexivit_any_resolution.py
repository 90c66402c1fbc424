"""A FlexiViT checkpoint loads as a model of any resolution: posemb resized per call, as big_vision."""

import numpy as np
import pytest
from keras import ops

from keras_vision.convert import load_big_vision
from keras_vision.convert import variables_by_path
from keras_vision.models import build_model
from keras_vision.models.flexivit import FlexiViTBackbone
from keras_vision.models.flexivit import FlexiViTImageClassifier
from keras_vision.testing import randomize_weights

_TO_BIG_VISION = {"pos_embedding/embeddings": "pos_embedding", "cls/cls": "cls"}
# big_vision `proj.flexi.vit` config.model: kernel stored at 8x8, posemb on big_vision's 7x7 grid.
CONFIG = dict(variant="mu", patch_size=(8, 8), posemb_size=(7, 7), pool_type="tok", num_classes=5,
              head_zeroinit=False)
# 32 px: 4x4 tokens (posemb shrunk, antialiased), 64 px: 8x8 (enlarged), 224 px: 28x28.
SIZES = (32, 64, 224)
ATOL = 1e-5


def _np(x):
    return ops.convert_to_numpy(x)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    model = build_model("proj.flexi.vit", image_size=32, **CONFIG)
    randomize_weights(model)
    params = {"params/" + _TO_BIG_VISION.get(k, k): _np(v) for k, v in variables_by_path(model.backbone).items()}
    params["params/head/kernel"] = _np(model.head.kernel)
    params["params/head/bias"] = _np(model.head.bias)
    path = tmp_path_factory.mktemp("ckpt") / "flexivit.npz"
    np.savez(path, **params)
    return path, params


def _vit_with_big_vision_posemb(params, size):
    """Independent: a fixed-size plain ViT whose learned posemb is big_vision flexi's run-time resize.

    big_vision `proj/flexi/vit.py` resizes the 7x7 table with `jax.image.resize(..., "linear")`
    to the token grid of each call.
    """
    jax = pytest.importorskip("jax")
    grid = size // 8
    vit = build_model("vit", variant="mu", patch_size=(8, 8), pool_type="tok", posemb="learn",
                      num_classes=5, image_size=size)
    table = params["params/pos_embedding"].reshape(1, 7, 7, -1)
    resized = np.asarray(jax.image.resize(table, (1, grid, grid, table.shape[-1]), "linear"))
    weights = {**params, "params/pos_embedding": resized.reshape(1, grid * grid, -1)}
    variables = {**variables_by_path(vit.backbone), "head/kernel": vit.head.kernel, "head/bias": vit.head.bias}
    for name, variable in variables.items():
        variable.assign(weights["params/" + _TO_BIG_VISION.get(name, name)])
    return vit


def _fixed_size_flexivit(loaded, size):
    """The same FlexiViT built explicitly at `size` (with_patch_size builds a new graph), same variables."""
    model = FlexiViTImageClassifier(
        FlexiViTBackbone.from_config({**loaded.backbone.get_config(), "image_shape": (size, size, 3)}),
        num_classes=5,
    )
    source, target = variables_by_path(loaded), variables_by_path(model)
    assert list(target) == list(source)
    for name, variable in target.items():
        variable.assign(_np(source[name]))  # a copy: never share a device buffer
    return model


@pytest.mark.multibackend
def test_flexivit_checkpoint_loads_for_any_resolution(checkpoint):
    path, params = checkpoint
    loaded = load_big_vision(path, model="proj.flexi.vit", config=CONFIG)
    assert isinstance(loaded, FlexiViTImageClassifier)
    assert loaded.backbone.image_shape == (None, None, 3) and loaded.patch_size == (8, 8)
    errors = {}
    for size in SIZES:
        x = np.random.default_rng(size).uniform(-1, 1, size=(2, size, size, 3)).astype("float32")
        logits = _np(loaded(x))
        vit = _vit_with_big_vision_posemb(params, size)
        fixed = _fixed_size_flexivit(loaded, size)
        errors[size] = (float(np.abs(logits - _np(vit(x))).max()), float(np.abs(logits - _np(fixed(x))).max()))
        out, ref = loaded.get_intermediates(x), vit.get_intermediates(x)
        assert out["pre_logits_2d"].shape == (2, size // 8, size // 8, 32)
        for key in ("with_posemb", "encoded", "pre_logits", "logits"):
            np.testing.assert_allclose(_np(out[key]), _np(ref[key]), atol=ATOL, rtol=0, err_msg=f"{size} {key}")
    assert max(max(e) for e in errors.values()) <= ATOL, errors


@pytest.mark.multibackend
def test_any_resolution_flexivit_at_other_patch_sizes(checkpoint):
    path, _ = checkpoint
    loaded = load_big_vision(path, model="proj.flexi.vit", config=CONFIG)
    coarse = loaded.with_patch_size(16)
    assert [id(v) for v in coarse.weights] == [id(v) for v in loaded.weights]
    assert coarse.backbone.image_shape == (None, None, 3)
    for size in (32, 64):
        x = np.random.default_rng(size).uniform(-1, 1, size=(2, size, size, 3)).astype("float32")
        fixed = _fixed_size_flexivit(loaded, size).with_patch_size(16)
        np.testing.assert_allclose(_np(coarse(x)), _np(fixed(x)), atol=ATOL, rtol=0)


def test_fixed_resolution_when_the_config_or_seqhw_fixes_it(checkpoint):
    path, _ = checkpoint
    assert load_big_vision(path, model="proj.flexi.vit", config=dict(CONFIG, image_size=48)).backbone.image_shape == (
        48, 48, 3)
    assert load_big_vision(path, model="proj.flexi.vit", config=CONFIG,
                           image_shape=(40, 40, 3)).backbone.image_shape == (40, 40, 3)
    # seqhw fixes the token grid: big_vision FlexiViT's 240 px, patch 240 // seqhw.
    at_seqhw = load_big_vision(path, model="proj.flexi.vit", config=dict(CONFIG, seqhw=10))
    assert at_seqhw.backbone.image_shape == (240, 240, 3) and at_seqhw.patch_size == (24, 24)
    with pytest.raises(ValueError, match="seqhw=10 fixes the token grid"):
        build_model("proj.flexi.vit", image_shape=(None, None, 3), **dict(CONFIG, seqhw=10))


@pytest.mark.multibackend
def test_position_embedding_in_a_graph_of_unknown_grid():
    """Traced with unknown height/width (TF graph, SavedModel), the resize matrices are built in the graph."""
    import keras

    if keras.backend.backend() != "tensorflow":
        pytest.skip("only TensorFlow traces unknown spatial sizes")
    import tensorflow as tf  # only here: the one backend with shape-polymorphic graphs

    from keras_vision.models.flexivit import FlexiPositionEmbedding

    layer = FlexiPositionEmbedding(grid_size=7)
    layer.build((None, 7, 7, 16))
    layer.embeddings.assign(np.random.default_rng(0).normal(size=(1, 49, 16)).astype("float32"))
    fn = tf.function(layer, input_signature=[tf.TensorSpec((None, None, None, 16))])
    for grid in ((4, 4), (7, 7), (28, 28), (3, 9)):
        x = np.zeros((1, *grid, 16), "float32")
        np.testing.assert_allclose(fn(x).numpy(), _np(layer(x)), atol=1e-6, rtol=0)
