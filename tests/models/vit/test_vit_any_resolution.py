"""A sincos2d ViT checkpoint loads as a model of any resolution and matches fixed-size models."""

import numpy as np
import pytest
from keras import ops

from keras_vision.convert import load_big_vision
from keras_vision.convert import variables_by_path
from keras_vision.models import ViTBackbone
from keras_vision.models import build_model
from keras_vision.testing import randomize_weights

# Keras variable path -> big_vision parameter name, where they differ.
_TO_BIG_VISION = {"pos_embedding/embeddings": "pos_embedding", "cls/cls": "cls"}
# big_vision `config.model` of the checkpoint (width 64: the golden sincos table is 4x4, D=64).
CONFIG = dict(width=64, depth=2, mlp_dim=128, num_heads=2, patch_size=(8, 8), posemb="sincos2d",
              pool_type="map", num_classes=5, head_zeroinit=False)
SIZES = (32, 64, 224, (24, 40))
# Measured max abs logit differences vs the fixed-size model (JAX and TF, CPU): 0.0 (eager);
# the run-time table vs the golden: 4.6e-7.
ATOL = 1e-5


def _np(x):
    return ops.convert_to_numpy(x)


def _save_checkpoint(model, path):
    """Writes `model`'s weights as a big_vision `params/...` npz, returns the path."""
    params = {"params/" + _TO_BIG_VISION.get(k, k): _np(v) for k, v in variables_by_path(model.backbone).items()}
    params["params/head/kernel"] = _np(model.head.kernel)
    params["params/head/bias"] = _np(model.head.bias)
    np.savez(path, **params)
    return path


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    model = build_model("vit", image_size=32, **CONFIG)
    randomize_weights(model)
    return _save_checkpoint(model, tmp_path_factory.mktemp("ckpt") / "vit_sincos.npz")


def _fixed_size_model(loaded, size):
    """`build_model("vit", ...)` at `size`, weights copied variable by variable from `loaded`."""
    model = build_model("vit", image_size=size, **CONFIG)
    source = variables_by_path(loaded)
    target = variables_by_path(model)
    assert list(target) == list(source)  # same paths, same order
    for name, variable in target.items():
        variable.assign(_np(source[name]))  # a copy: never share a device buffer
    return model


@pytest.mark.multibackend
def test_sincos2d_checkpoint_loads_for_any_resolution(golden, checkpoint):
    loaded = load_big_vision(checkpoint, model="vit", config=CONFIG)
    assert loaded.backbone.image_shape == (None, None, 3)
    assert loaded.backbone.position_embedding_type == "sincos2d"
    table = golden("vit_posemb_utils")["outputs/posemb_sincos_2d_4x4_w64"]
    errors = {}
    for size in SIZES:
        h, w = (size, size) if isinstance(size, int) else size
        x = np.random.default_rng(h + w).uniform(-1, 1, size=(2, h, w, 3)).astype("float32")
        fixed = _fixed_size_model(loaded, size)
        errors[size] = float(np.abs(_np(loaded(x)) - _np(fixed(x))).max())
        out, ref = loaded.get_intermediates(x), fixed.get_intermediates(x)
        assert out["pre_logits_2d"].shape == (2, h // 8, w // 8, 64)
        for key in ("with_posemb", "encoded", "pre_logits", "pre_logits_2d", "logits"):
            np.testing.assert_allclose(_np(out[key]), _np(ref[key]), atol=ATOL, rtol=0, err_msg=f"{size} {key}")
        if size == 32:
            # The run-time table is big_vision's posemb_sincos_2d (golden 4x4, D=64).
            stem = _np(out["stem"]).reshape(2, 16, 64)
            np.testing.assert_allclose(_np(out["with_posemb"]) - stem, np.broadcast_to(table, stem.shape), atol=1e-5)
    assert max(errors.values()) <= ATOL, errors


@pytest.mark.multibackend
def test_learned_posemb_checkpoint_keeps_a_fixed_resolution(tmp_path):
    model = build_model("vit", image_size=32, **dict(CONFIG, posemb="learn"))
    path = _save_checkpoint(model, tmp_path / "vit_learn.npz")
    assert load_big_vision(path, model="vit", config=dict(CONFIG, posemb="learn")).backbone.image_shape == (32, 32, 3)
    resized = load_big_vision(path, model="vit", config=dict(CONFIG, posemb="learn"), image_shape=(48, 48, 3))
    assert resized.backbone.image_shape == (48, 48, 3)
    # An explicit size also pins a sincos2d model.
    sincos = load_big_vision(_save_checkpoint(build_model("vit", image_size=32, **CONFIG), tmp_path / "s.npz"),
                             model="vit", config=dict(CONFIG, image_size=64))
    assert sincos.backbone.image_shape == (64, 64, 3)


def test_any_resolution_needs_weights_that_allow_it():
    kw = dict(image_shape=(None, None, 3), patch_size=8, hidden_dim=32, num_layers=1, num_heads=2)
    with pytest.raises(ValueError, match="position_embedding='learn' needs a static image_shape.*sincos2d"):
        ViTBackbone(**kw)
    backbone = ViTBackbone(**kw, position_embedding="sincos2d", pooling="tok")
    assert backbone.grid_size is None and backbone.output["pre_logits_2d"].shape == (None, None, None, 32)
    clone = ViTBackbone.from_config(backbone.get_config())
    assert clone.get_config() == backbone.get_config() and clone.image_shape == (None, None, 3)
    with pytest.raises(ValueError, match="known channels"):
        ViTBackbone(**{**kw, "image_shape": (None, None, None)}, position_embedding="sincos2d")


@pytest.mark.multibackend
def test_any_resolution_keras_save_load(tmp_path, checkpoint):
    import keras

    loaded = load_big_vision(checkpoint, model="vit", config=CONFIG)
    path = tmp_path / "any.keras"
    loaded.save(path)
    again = keras.saving.load_model(path)
    assert again.backbone.image_shape == (None, None, 3)
    for size in (32, 48):
        x = np.random.default_rng(size).uniform(-1, 1, size=(1, size, size, 3)).astype("float32")
        np.testing.assert_allclose(_np(again(x)), _np(loaded(x)), atol=1e-6)
