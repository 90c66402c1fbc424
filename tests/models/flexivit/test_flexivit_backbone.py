"""FlexiViTBackbone / FlexiViTImageClassifier: weight sharing, ViT parity, builder, serialization."""

import numpy as np
import pytest
from keras import ops

from keras_vision.convert import variables_by_path
from keras_vision.layers.pi_resize import resample_patch_kernel
from keras_vision.layers.pi_resize import resize_grid_ops
from keras_vision.models import ViTBackbone
from keras_vision.models import build_model
from keras_vision.models.flexivit import FlexiViTBackbone
from keras_vision.models.flexivit import FlexiViTImageClassifier
from keras_vision.testing import randomize_weights
from keras_vision.testing import run_task_test

IMAGE = (32, 32, 3)


def _images(n=2, seed=0):
    return np.random.default_rng(seed).normal(size=(n, *IMAGE)).astype("float32")


def _flexi(**kw):
    args = dict(image_shape=IMAGE, patch_size=8, base_patch_size=8, posemb_grid_size=4, pooling="tok")
    args.update(kw)
    return FlexiViTBackbone.from_variant("mu", **args)


def _np(x):
    return ops.convert_to_numpy(x)


@pytest.mark.multibackend
def test_with_patch_size_shares_variables_and_changes_token_count():
    base = _flexi()
    coarse = base.with_patch_size(16)
    fine = base.with_patch_size(4)
    assert [id(v) for v in coarse.weights] == [id(v) for v in base.weights] == [id(v) for v in fine.weights]
    x = _images()
    assert base(x)["encoded"].shape == (2, 1 + 16, 32)
    assert coarse(x)["encoded"].shape == (2, 1 + 4, 32)
    assert fine(x)["encoded"].shape == (2, 1 + 64, 32)
    assert fine(x)["pre_logits_2d"].shape == (2, 8, 8, 32)
    # The kernel stays at its stored size whatever the patch size.
    assert tuple(fine.patch_embedding.kernel.shape) == (8, 8, 3, 32)
    # Changing a shared weight changes every copy.
    before = _np(coarse(x)["pre_logits"])
    base.get_layer("encoder_norm").bias.assign(np.full((32,), 0.5, "float32"))
    assert np.abs(_np(coarse(x)["pre_logits"]) - before).max() > 0.1
    with pytest.raises(ValueError, match="image_shape"):
        base.with_patch_size(40)


@pytest.mark.multibackend
@pytest.mark.parametrize("pooling", ["tok", "gap", "map"])
def test_equals_plain_vit_at_its_base_size(pooling):
    vit = ViTBackbone.from_variant("mu/8", image_shape=IMAGE, pooling=pooling)
    flexi = _flexi(pooling=pooling)
    randomize_weights(vit, seed=1)
    vit_vars, flexi_vars = variables_by_path(vit), variables_by_path(flexi)
    assert sorted(vit_vars) == sorted(flexi_vars)  # same big_vision parameter names
    for name, variable in flexi_vars.items():
        variable.assign(vit_vars[name])
    x = _images()
    out_vit, out_flexi = vit(x), flexi(x)
    for key in out_vit:
        np.testing.assert_allclose(_np(out_flexi[key]), _np(out_vit[key]), atol=1e-6)


@pytest.mark.multibackend
def test_other_patch_size_equals_vit_with_resized_kernel_and_posemb():
    """At patch 16 a FlexiViT is a ViT/16 with the PI-resized kernel and half-pixel-resized posemb."""
    flexi = _flexi(pooling="gap")
    randomize_weights(flexi, seed=1)
    at16 = flexi.with_patch_size(16)
    vit16 = ViTBackbone.from_variant("mu/16", image_shape=IMAGE, pooling="gap")
    flexi_vars = variables_by_path(flexi)
    for name, variable in variables_by_path(vit16).items():
        value = _np(flexi_vars[name])
        if name == "embedding/kernel":
            value = resample_patch_kernel(value, 16)
        elif name == "pos_embedding/embeddings":
            value = _np(resize_grid_ops(value.reshape(1, 4, 4, 32), (2, 2), antialias=True)).reshape(1, 4, 32)
        variable.assign(value)
    x = _images()
    np.testing.assert_allclose(_np(at16(x)["pre_logits"]), _np(vit16(x)["pre_logits"]), atol=1e-5)


@pytest.mark.multibackend
def test_classifier_with_patch_size_shares_head():
    model = FlexiViTImageClassifier(_flexi(), num_classes=5, head_zeroinit=False, init_head_bias=-1.0)
    coarse = model.with_patch_size(16)
    assert coarse.head is model.head and coarse.patch_size == (16, 16)
    assert [id(v) for v in coarse.weights] == [id(v) for v in model.weights]
    assert coarse(_images()).shape == (2, 5)
    assert coarse.get_config()["init_head_bias"] == -1.0


def test_builder_maps_big_vision_kwargs():
    model = build_model(
        "proj.flexi.vit", variant="mu", patch_size=(8, 8), posemb_size=(4, 4), pool_type="tok",
        num_classes=3, image_size=32, seqhw=2, init_head_bias=-2.0,
    )
    assert isinstance(model, FlexiViTImageClassifier)
    bb = model.backbone
    assert (bb.patch_size, bb.base_patch_size, bb.posemb_grid_size) == ((16, 16), (8, 8), (4, 4))
    assert bb.image_shape == (32, 32, 3) and bb.pooling == "tok"
    backbone = build_model("proj.flexi.vit", variant="mu")  # big_vision defaults: 32x32 kernel, 7x7, 240 px
    assert isinstance(backbone, FlexiViTBackbone)
    assert (backbone.base_patch_size, backbone.posemb_grid_size, backbone.image_shape) == (
        (32, 32), (7, 7), (240, 240, 3))
    with pytest.raises(ValueError, match="posemb_grid"):
        build_model("proj.flexi.vit", variant="mu", posemb_grid=(4, 4))


@pytest.mark.multibackend
def test_config_round_trip_keras_and_preset_save_load(tmp_path):
    model = FlexiViTImageClassifier(
        _flexi(patch_size=16, posemb_grid_size=(3, 5)), num_classes=4, head_zeroinit=False
    )
    randomize_weights(model, seed=1)
    x = _images()
    result = run_task_test(model, x, tmp_path, expected_output_shape=(2, 4))
    clone = result["clone"].backbone
    assert clone.base_patch_size == (8, 8) and clone.posemb_grid_size == (3, 5) and clone.patch_size == (16, 16)
    for key in ("restored", "from_preset"):
        loaded = result[key]
        assert isinstance(loaded, FlexiViTImageClassifier), key
        # A loaded model is still flexible.
        np.testing.assert_allclose(_np(loaded.with_patch_size(4)(x)), _np(model.with_patch_size(4)(x)), atol=1e-5)


def test_errors_name_the_bad_value():
    with pytest.raises(ValueError, match="'avg'"):
        _flexi(pooling="avg")
    with pytest.raises(ValueError, match=r"\(64, 64\)"):
        _flexi(patch_size=64)
    with pytest.raises(TypeError, match="ViTBackbone"):
        FlexiViTImageClassifier(ViTBackbone.from_variant("mu/8", image_shape=IMAGE), num_classes=3)


def test_paper_variants():
    backbone = FlexiViTBackbone.from_variant("flexivit_small", num_layers=1)
    assert (backbone.hidden_dim, backbone.num_heads, backbone.intermediate_dim) == (384, 6, 1536)
    assert backbone.image_shape == (240, 240, 3) and backbone.posemb_grid_size == (7, 7)
    assert backbone.get_layer("pos_embedding").embeddings.shape == (1, 49, 384)
    assert backbone.with_patch_size(48).output["encoded"].shape == (None, 1 + 25, 384)
