"""build_model("vit", **big_vision_kwargs): translation of big_vision names."""

import pytest

from keras_vision.models import ViTBackbone
from keras_vision.models import ViTImageClassifier
from keras_vision.models import build_model
from keras_vision.models.vit.vit_builder import vit_backbone_kwargs


def test_translation_of_big_vision_kwargs():
    backbone, head = vit_backbone_kwargs(
        variant="S/16", pool_type="tok", posemb="sincos2d", rep_size=True, num_classes=1000,
        head_zeroinit=False, dropout=0.1, image_size=384, scan=True, remat_policy="x", dtype_mm="bfloat16",
    )
    assert backbone == dict(
        hidden_dim=384, num_layers=12, intermediate_dim=1536, num_heads=6, patch_size=16,
        pooling="tok", position_embedding="sincos2d", dropout_rate=0.1, representation_size=384,
        image_shape=(384, 384, 3), dtype="mixed_bfloat16",
    )
    assert head == dict(num_classes=1000, head_zeroinit=False, init_head_bias=0.0)
    # explicit sizes win over the variant, as in big_vision
    backbone, _ = vit_backbone_kwargs(variant="B/32", width=64, patch_size=[8, 8], rep_size=10, image_shape=(64, 48, 1))
    assert backbone["hidden_dim"] == 64 and backbone["patch_size"] == (8, 8) and backbone["num_layers"] == 12
    assert backbone["representation_size"] == 10 and backbone["image_shape"] == (64, 48, 1)
    assert vit_backbone_kwargs(image_size=(32, 48))[0]["image_shape"] == (32, 48, 3)


def test_build_model_returns_classifier_or_backbone():
    model = build_model("vit", variant="mu/8", pool_type="map", num_classes=10, image_size=32, head_zeroinit=False)
    assert isinstance(model, ViTImageClassifier) and model.num_classes == 10 and not model.head_zeroinit
    assert model.backbone.pooling == "map" and model.backbone.hidden_dim == 32
    backbone = build_model("vit", variant="mu/8", image_size=32, qk_norm=True, block_type="parallel")
    assert isinstance(backbone, ViTBackbone) and backbone.qk_norm and backbone.block_type == "parallel"


def test_errors_list_known_names():
    with pytest.raises(ValueError, match=r"Unknown ViT model kwarg\(s\) \['poolig'\].*'pool_type'"):
        build_model("vit", variant="mu/8", poolig="map")
    with pytest.raises(ValueError, match="Unknown model_name 'vitt'.*'vit'"):
        build_model("vitt")
    with pytest.raises(ValueError, match="Unknown dtype_mm"):
        build_model("vit", variant="mu/8", dtype_mm="int8")
    with pytest.raises(ValueError, match="not both"):
        build_model("vit", variant="mu/8", image_size=32, image_shape=(32, 32, 3))
