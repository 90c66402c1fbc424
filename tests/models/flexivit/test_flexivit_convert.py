"""The "proj.flexi.vit" converter: big_vision-style param dicts in, FlexiViT models out."""

import numpy as np
import pytest
from keras import ops

from keras_vision.convert import load_big_vision
from keras_vision.convert import variables_by_path
from keras_vision.layers.pi_resize import resample_patch_kernel
from keras_vision.layers.posemb_utils import resample_posemb_align_corners
from keras_vision.models import build_model
from keras_vision.models.flexivit import FlexiViTImageClassifier
from keras_vision.testing import randomize_weights

# Keras variable path -> big_vision parameter name, where they differ.
_TO_BIG_VISION = {"pos_embedding/embeddings": "pos_embedding", "cls/cls": "cls"}


def big_vision_params(model):
    """A flat big_vision `params/...` dict made from a Keras ViT/FlexiViT's weights."""
    backbone = getattr(model, "backbone", model)
    params = {}
    for path, variable in variables_by_path(backbone).items():
        params["params/" + _TO_BIG_VISION.get(path, path)] = ops.convert_to_numpy(variable)
    if hasattr(model, "head"):
        params["params/head/kernel"] = ops.convert_to_numpy(model.head.kernel)
        params["params/head/bias"] = ops.convert_to_numpy(model.head.bias)
    return params


BV_CONFIG = dict(variant="mu", pool_type="tok", patch_size=(8, 8), posemb_size=(4, 4), image_size=32)


@pytest.mark.multibackend
def test_round_trip_through_a_big_vision_param_dict():
    model = build_model("proj.flexi.vit", num_classes=5, seqhw=2, **BV_CONFIG)
    randomize_weights(model)
    params = big_vision_params(model)
    assert params["params/embedding/kernel"].shape == (8, 8, 3, 32)
    assert params["params/pos_embedding"].shape == (1, 16, 32)
    loaded = load_big_vision(params, model="proj.flexi.vit", config=dict(BV_CONFIG, seqhw=2))
    assert isinstance(loaded, FlexiViTImageClassifier) and loaded.patch_size == (16, 16)
    x = np.random.default_rng(1).normal(size=(2, 32, 32, 3)).astype("float32")
    for p in (16, 8, 4):
        np.testing.assert_allclose(
            ops.convert_to_numpy(loaded.with_patch_size(p)(x)),
            ops.convert_to_numpy(model.with_patch_size(p)(x)),
            atol=1e-5,
        )


def test_plain_vit_checkpoint_is_pi_resized_and_posemb_resampled():
    """big_vision flexi `load`: kernel PI-resized to the model's patch_size, posemb to its grid."""
    vit = build_model("vit", variant="mu/16", pool_type="gap", posemb="learn", num_classes=3, image_size=64)
    randomize_weights(vit, seed=2)
    params = big_vision_params(vit)  # kernel 16x16, posemb 4x4
    config = dict(variant="mu", pool_type="gap", patch_size=(8, 8), posemb_size=(7, 7), image_size=48)
    flexi = load_big_vision(params, model="proj.flexi.vit", config=config)
    kernel = ops.convert_to_numpy(flexi.backbone.get_layer("embedding").kernel)
    np.testing.assert_allclose(kernel, resample_patch_kernel(params["params/embedding/kernel"], 8), atol=1e-6)
    posemb = ops.convert_to_numpy(flexi.backbone.get_layer("pos_embedding").embeddings)
    np.testing.assert_allclose(posemb, resample_posemb_align_corners(params["params/pos_embedding"], 7), atol=1e-6)
    np.testing.assert_array_equal(ops.convert_to_numpy(flexi.head.kernel), params["params/head/kernel"])
    assert flexi.backbone.patch_size == (8, 8) and flexi.backbone.image_shape == (48, 48, 3)


def test_kernel_size_is_kept_when_not_configured_and_dont_load():
    model = build_model("proj.flexi.vit", num_classes=4, **dict(BV_CONFIG, patch_size=(16, 16)))
    randomize_weights(model, seed=3)
    params = big_vision_params(model)
    config = {k: v for k, v in BV_CONFIG.items() if k != "patch_size"}
    # Keep the head at init (a new task): head kernel zeros, bias 0.
    loaded = load_big_vision(params, model="proj.flexi.vit", config=dict(config, num_classes=4),
                             dont_load=["head/.*"])
    assert loaded.backbone.base_patch_size == (16, 16)  # the checkpoint's buffer, not re-sized
    assert float(np.abs(ops.convert_to_numpy(loaded.head.kernel)).max()) == 0.0
    np.testing.assert_array_equal(
        ops.convert_to_numpy(loaded.backbone.get_layer("embedding").kernel), params["params/embedding/kernel"]
    )


def test_backbone_only_and_unknown_option():
    model = build_model("proj.flexi.vit", **BV_CONFIG)
    params = big_vision_params(model)
    loaded = load_big_vision(params, model="proj.flexi.vit", config=BV_CONFIG)
    assert not hasattr(loaded, "head")
    with pytest.raises(ValueError, match="flexi"):
        load_big_vision(params, model="proj.flexi.vit", config=BV_CONFIG, resize="yes")
