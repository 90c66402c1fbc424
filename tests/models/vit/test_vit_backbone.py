"""ViTBackbone: outputs, names, variants, options, resolution change, serialization."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_vision.layers import posemb_sincos_2d
from keras_vision.layers import resample_posemb_align_corners
from keras_vision.models import ViTBackbone
from keras_vision.models.vit import VIT_VARIANTS
from keras_vision.models.vit import decode_variant
from keras_vision.testing import run_backbone_test

TINY = dict(image_shape=(32, 32, 3), patch_size=8, hidden_dim=32, num_layers=2, num_heads=2, intermediate_dim=64)


def _images(n=2, size=32, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, size=(n, size, size, 3)).astype("float32")


def test_variant_table():
    # big_vision vit.decode_variant (mu checked against big_vision's vit.py).
    assert decode_variant("mu/8") == dict(hidden_dim=32, num_layers=1, intermediate_dim=128, num_heads=2, patch_size=8)
    assert decode_variant("S/16") == dict(hidden_dim=384, num_layers=12, intermediate_dim=1536, num_heads=6, patch_size=16)
    assert decode_variant("So400m")["intermediate_dim"] == 4304
    assert decode_variant("G-opt") == dict(hidden_dim=1536, num_layers=48, intermediate_dim=8192, num_heads=16)
    assert set(VIT_VARIANTS) == {"mu", "Ti", "S", "M", "B", "L", "So400m", "H", "g", "g-opt", "G", "G-opt", "e"}
    with pytest.raises(ValueError, match="Unknown ViT variant 'X'.*'mu', 'Ti'"):
        decode_variant("X/16")
    with pytest.raises(ValueError, match="Bad patch size"):
        decode_variant("B/sixteen")


@pytest.mark.multibackend
@pytest.mark.parametrize("pooling", ["gap", "tok", "map", "0", "none"])
def test_outputs_per_pooling(pooling):
    backbone = ViTBackbone(**TINY, pooling=pooling, representation_size=16 if pooling == "tok" else None)
    out = backbone(_images())
    n_tokens = 17 if pooling == "tok" else 16
    feat = 16 if pooling == "tok" else 32
    assert tuple(out["encoded"].shape) == (2, n_tokens, 32)
    assert tuple(out["pre_logits_2d"].shape) == (2, 4, 4, feat)
    expected = (2, 16, 32) if pooling == "none" else (2, feat)
    assert tuple(out["pre_logits"].shape) == expected
    inter = backbone.get_intermediates(_images())
    encoded = ops.convert_to_numpy(inter["encoded"])
    np.testing.assert_allclose(ops.convert_to_numpy(out["encoded"]), encoded, atol=1e-5)
    if pooling == "gap":
        np.testing.assert_allclose(ops.convert_to_numpy(out["pre_logits"]), encoded.mean(1), atol=1e-5)
    if pooling in ("0", "none"):
        ref = encoded[:, 0] if pooling == "0" else encoded
        np.testing.assert_allclose(ops.convert_to_numpy(out["pre_logits"]), ref, atol=1e-5)
    if pooling == "tok":
        ref = np.tanh(encoded[:, 0] @ ops.convert_to_numpy(backbone.get_layer("pre_logits").kernel)
                      + ops.convert_to_numpy(backbone.get_layer("pre_logits").bias))
        np.testing.assert_allclose(ops.convert_to_numpy(out["pre_logits"]), ref, atol=1e-5)


def test_variable_paths_follow_big_vision_names():
    backbone = ViTBackbone(**TINY, pooling="map", representation_size=8)
    paths = [v.path for v in backbone.weights]
    for expected in (
        "embedding/kernel",
        "pos_embedding/embeddings",
        "Transformer/encoderblock_0/LayerNorm_0/scale",
        "Transformer/encoderblock_1/MultiHeadDotProductAttention_0/query/kernel",
        "Transformer/encoderblock_1/MlpBlock_0/Dense_1/bias",
        "Transformer/encoder_norm/bias",
        "MAPHead_0/probe",
        "MAPHead_0/MultiHeadDotProductAttention_0/out/kernel",
        "pre_logits/kernel",
    ):
        assert expected in paths, expected
    # Layers by documented names; their outputs are the big_vision intermediates.
    sub = keras.Model(backbone.input, [backbone.get_layer(n).output for n in ("embedding", "pos_embedding", "encoderblock_1", "encoder_norm")])
    stem, with_posemb, block1, encoded = (ops.convert_to_numpy(t) for t in sub(_images()))
    inter = backbone.get_intermediates(_images())
    np.testing.assert_allclose(stem, ops.convert_to_numpy(inter["stem"]), atol=1e-5)
    np.testing.assert_allclose(with_posemb, ops.convert_to_numpy(inter["with_posemb"]), atol=1e-5)
    np.testing.assert_allclose(block1, ops.convert_to_numpy(inter["encoder/block01/+mlp"]), atol=1e-5)
    np.testing.assert_allclose(encoded, ops.convert_to_numpy(inter["encoded"]), atol=1e-5)
    with pytest.raises(ValueError, match="Unknown intermediate.*'nope'"):
        backbone.get_intermediates(_images(), names=["nope"])


@pytest.mark.multibackend
def test_sincos2d_has_no_posemb_weight():
    backbone = ViTBackbone(**TINY, position_embedding="sincos2d")
    assert not any("pos_embedding" in v.path for v in backbone.weights)
    inter = backbone.get_intermediates(_images())
    stem = ops.convert_to_numpy(inter["stem"]).reshape(2, 16, 32)
    np.testing.assert_allclose(
        ops.convert_to_numpy(inter["with_posemb"]), stem + posemb_sincos_2d(4, 4, 32), atol=1e-5
    )


@pytest.mark.multibackend
def test_vit22b_options():
    backbone = ViTBackbone(**TINY, block_type="parallel", qk_norm=True, use_bias=False, pooling="map")
    paths = [v.path for v in backbone.weights]
    assert "Transformer/encoderblock_0/MultiHeadDotProductAttention_0/query_ln/scale" in paths
    assert "Transformer/encoderblock_0/LayerNorm_1/scale" not in paths
    assert not any(p.endswith(("query/bias", "key/bias", "value/bias", "LayerNorm_0/bias")) for p in paths)
    out = backbone(_images())
    assert tuple(out["pre_logits"].shape) == (2, 32)
    inter = backbone.get_intermediates(_images())
    assert "encoder/block00/+sa" not in inter and "encoder/block00/+mlp" in inter


@pytest.mark.multibackend
def test_with_image_shape_resamples_posemb():
    backbone = ViTBackbone(**TINY, pooling="tok")
    bigger = backbone.with_image_shape((48, 48, 3))
    assert bigger.image_shape == (48, 48, 3)
    table = ops.convert_to_numpy(backbone.get_layer("pos_embedding").embeddings)
    np.testing.assert_allclose(
        ops.convert_to_numpy(bigger.get_layer("pos_embedding").embeddings),
        resample_posemb_align_corners(table, 6),
        atol=1e-6,
    )
    np.testing.assert_array_equal(
        ops.convert_to_numpy(bigger.get_layer("cls").cls), ops.convert_to_numpy(backbone.get_layer("cls").cls)
    )
    assert tuple(bigger(_images(size=48))["encoded"].shape) == (2, 37, 32)


def test_from_variant_and_errors():
    backbone = ViTBackbone.from_variant("mu/8", image_shape=(32, 32, 3), pooling="map")
    assert (backbone.hidden_dim, backbone.num_layers, backbone.intermediate_dim, backbone.num_heads) == (32, 1, 128, 2)
    assert backbone.patch_size == (8, 8)
    with pytest.raises(ValueError, match="Unknown pooling 'avg'.*'gap'"):
        ViTBackbone(**TINY, pooling="avg")
    with pytest.raises(ValueError, match="Unknown position_embedding 'rope'"):
        ViTBackbone(**TINY, position_embedding="rope")
    with pytest.raises(ValueError, match="static image_shape"):
        ViTBackbone(**{**TINY, "image_shape": (None, None, 3)})
    with pytest.raises(ValueError, match="representation_size"):
        ViTBackbone(**TINY, representation_size=True)
    with pytest.raises(ValueError, match="Unknown block_type"):
        ViTBackbone(**TINY, block_type="serial")


@pytest.mark.multibackend
def test_config_round_trip_keras_and_preset_save_load(tmp_path):
    backbone = ViTBackbone(
        **TINY, pooling="tok", representation_size=16, dropout_rate=0.1, stochastic_depth_rate=0.1, qk_norm=True
    )
    result = run_backbone_test(
        backbone, _images(), tmp_path, expected_output_shape={"pre_logits": (2, 16), "pre_logits_2d": (2, 4, 4, 16), "encoded": (2, 17, 32)},
    )
    assert isinstance(result["restored"], ViTBackbone) and isinstance(result["from_preset"], ViTBackbone)