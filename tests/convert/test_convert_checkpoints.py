"""load_big_vision: npz layouts, prefixes, bf16, scan, legacy names, resampling, errors."""

import numpy as np
import pytest
from keras import ops

from keras_vision.convert import ConversionError
from keras_vision.convert import convert_pre_linen
from keras_vision.convert import load_big_vision
from keras_vision.models.vit.vit_convert import load_vit_params
from keras_vision.convert import pyloop_to_scan
from keras_vision.convert import read_checkpoint
from keras_vision.convert import recover_dtype
from keras_vision.convert import register_converter
from keras_vision.convert import scan_to_pyloop
from keras_vision.convert import select_prefix
from keras_vision.layers import resample_posemb_align_corners
from keras_vision.models import ViTBackbone
from keras_vision.models import ViTImageClassifier

ATOL = 1e-5


def _bare(g):
    return {k[len("params/") :]: v for k, v in g.items() if k.startswith("params/")}


def _logits(model, g):
    return ops.convert_to_numpy(model(g["inputs/image"]))


@pytest.mark.multibackend
def test_npz_prefix_layouts(golden, tmp_path):
    g = golden("vit_gap_learn")
    params = _bare(g)
    # 1) no prefix (AugReg style) 2) params/ + opt/ (big_vision training) 3) params/img/ (SigLIP)
    np.savez(tmp_path / "bare.npz", **params)
    np.savez(tmp_path / "train.npz", **{f"params/{k}": v for k, v in params.items()},
             **{"opt/state/mu/embedding/kernel": np.zeros(3)})
    np.savez(tmp_path / "siglip.npz", **{f"params/img/{k}": v for k, v in params.items()},
             **{"params/txt/Embed_0/embedding": np.zeros((5, 4)), "params/t": np.zeros(1)})
    for model in (
        load_big_vision(tmp_path / "bare.npz"),
        load_big_vision(str(tmp_path / "train.npz")),
        load_big_vision(tmp_path / "siglip.npz", prefix="params/img"),
        load_big_vision(tmp_path / "siglip.npz", prefix="img/"),
        load_big_vision(f"{tmp_path / 'siglip.npz'}:img"),
    ):
        np.testing.assert_allclose(_logits(model, g), g["outputs/logits"], atol=ATOL)
    with pytest.raises(ConversionError, match=r"No parameters under prefix 'image/'.*\['img', 't', 'txt'\]"):
        load_big_vision(tmp_path / "siglip.npz", prefix="image")


@pytest.mark.multibackend
def test_bfloat16_void_arrays(golden, tmp_path):
    g = golden("vit_map_learn")
    bits = {k: (v.view(np.uint32) >> 16).astype(np.uint16).view("V2") for k, v in _bare(g).items()}
    np.savez(tmp_path / "bf16.npz", **bits)
    raw = np.load(tmp_path / "bf16.npz")["embedding/kernel"]
    assert raw.dtype.kind == "V" and raw.dtype.itemsize == 2
    decoded = recover_dtype(raw)
    assert decoded.dtype == np.float32
    np.testing.assert_allclose(decoded, g["params/embedding/kernel"], rtol=2**-7)
    model = load_big_vision(tmp_path / "bf16.npz")
    err = np.abs(_logits(model, g) - g["outputs/logits"]).max()
    assert err < 0.05, err


def test_scan_pyloop_round_trip(golden):
    scan = _bare(golden("vit_map_scan"))
    loop = scan_to_pyloop(scan)
    assert "Transformer/encoderblock_2/MlpBlock_0/Dense_0/kernel" in loop
    assert not any("encoderblock/" in k for k in loop)
    np.testing.assert_array_equal(
        loop["Transformer/encoderblock_1/LayerNorm_0/scale"], scan["Transformer/encoderblock/LayerNorm_0/scale"][1]
    )
    back = pyloop_to_scan(loop)
    assert sorted(back) == sorted(scan)
    for k in scan:
        np.testing.assert_array_equal(back[k], scan[k])


def test_pre_linen_renumbering(golden):
    legacy = golden("vit_tok_augreg_layout")
    fixed = convert_pre_linen(legacy)
    assert "Transformer/encoderblock_0/MultiHeadDotProductAttention_0/query/kernel" in fixed
    assert "Transformer/encoderblock_1/LayerNorm_1/scale" in fixed
    assert "Transformer/encoderblock_0/MlpBlock_0/Dense_1/bias" in fixed
    assert convert_pre_linen(fixed).keys() == fixed.keys()  # idempotent


@pytest.mark.multibackend
def test_resample_posemb_on_load(golden):
    g = golden("vit_tok_learn_rep")
    model = load_big_vision(_bare(g), image_shape=(48, 48, 3))
    assert model.backbone.image_shape == (48, 48, 3)
    np.testing.assert_allclose(
        ops.convert_to_numpy(model.backbone.get_layer("pos_embedding").embeddings),
        resample_posemb_align_corners(g["params/pos_embedding"], 6),
        atol=1e-6,
    )
    assert _logits(model, {"inputs/image": np.zeros((1, 48, 48, 3), "float32")}).shape == (1, 10)
    # The legacy N+1 layout resamples after folding [cls] out.
    legacy = load_big_vision(golden("vit_tok_augreg_layout"), config={"image_size": 40})
    assert legacy.backbone.get_layer("pos_embedding").embeddings.shape == (1, 25, 64)


@pytest.mark.multibackend
def test_load_vit_params_into_existing_backbone(golden):
    g = golden("vit_map_learn")
    backbone = ViTBackbone(image_shape=(32, 32, 3), patch_size=8, hidden_dim=64, num_layers=2, num_heads=2,
                           intermediate_dim=128, pooling="map")
    unused = load_vit_params(backbone, _bare(g), strict=False)
    assert sorted(unused) == ["head/bias", "head/kernel"]
    np.testing.assert_allclose(
        ops.convert_to_numpy(backbone(g["inputs/image"])["pre_logits"]), g["outputs/pre_logits"], atol=ATOL
    )
    with pytest.raises(ConversionError, match=r"unexpected in the checkpoint \(2\): \['head/bias', 'head/kernel'\]"):
        load_vit_params(backbone, _bare(g))


def test_errors_list_missing_unexpected_and_mismatched(golden):
    params = _bare(golden("vit_gap_learn"))
    broken = dict(params)
    del broken["Transformer/encoderblock_1/LayerNorm_0/scale"]
    broken["Transformer/encoderblock_1/extra/kernel"] = np.zeros(3)
    broken["head/bias"] = np.zeros(11)
    with pytest.raises(ConversionError) as info:
        load_big_vision(broken, config={"num_classes": 10})
    message = str(info.value)
    assert "missing from the checkpoint (1): ['Transformer/encoderblock_1/LayerNorm_0/scale']" in message
    assert "unexpected in the checkpoint (1): ['Transformer/encoderblock_1/extra/kernel']" in message
    assert "head/bias: checkpoint (11,) vs ViTImageClassifier (10,)" in message
    with pytest.raises(ValueError, match="No big_vision converter for model 'vitt'.*'vit'"):
        load_big_vision(params, model="vitt")
    with pytest.raises(ConversionError, match="Not a big_vision ViT checkpoint"):
        load_big_vision({"foo/bar": np.zeros(2)})
    with pytest.raises(FileNotFoundError):
        read_checkpoint("/nonexistent/file.npz")


@pytest.mark.multibackend
def test_dont_load_keeps_init_and_new_head(golden):
    g = golden("vit_gap_learn")
    model = load_big_vision(
        _bare(g), config={"num_classes": 3, "head_zeroinit": True}, dont_load=["head/.*"]
    )
    assert isinstance(model, ViTImageClassifier) and model.num_classes == 3
    np.testing.assert_allclose(_logits(model, g), 0.0)  # zero-init head kept
    np.testing.assert_allclose(
        ops.convert_to_numpy(model.backbone(g["inputs/image"])["pre_logits"]), g["outputs/pre_logits"], atol=ATOL
    )
    backbone_only = load_big_vision(_bare(g), config={"num_classes": None}, dont_load=["head/.*"])
    assert isinstance(backbone_only, ViTBackbone)


def test_config_variant_overrides_inference(golden):
    params = _bare(golden("vit_gap_learn"))
    with pytest.raises(ConversionError, match="shape mismatches"):
        load_big_vision(params, config={"variant": "mu/8"})  # mu is 32 wide, the checkpoint 64


def test_register_converter_and_select_prefix():
    @register_converter("test.dummy")
    def convert_dummy(params, config, image_shape=None, **kwargs):
        return sorted(params), config

    keys, config = load_big_vision({"params": {"a": {"b": np.zeros(1)}}}, model="test.dummy", config={"x": 1})
    assert keys == ["a/b"] and config == {"x": 1}
    with pytest.raises(ValueError, match="already registered"):
        register_converter("test.dummy")(lambda params, config, **kw: None)
    assert select_prefix({"a/b": 1, "a/c": 2, "d": 3}, "a") == {"b": 1, "c": 2}
