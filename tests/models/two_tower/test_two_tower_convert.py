"""big_vision two-tower checkpoint -> TwoTowerModel: every output of two_towers_siglip at 1e-5."""

import json

import numpy as np
import pytest
from keras import ops

from keras_vision.convert import ConversionError
from keras_vision.convert import load_big_vision

pytestmark = pytest.mark.multibackend
ATOL = 1e-5


def _np(x):
    return np.asarray(ops.convert_to_numpy(x))


@pytest.fixture(scope="module")
def case():
    import pathlib

    path = pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "two_towers_siglip.npz"
    with np.load(path) as f:
        g = {k: f[k] for k in f.files}
    return path, g, json.loads(str(g["meta/config"]))["kwargs"]


@pytest.fixture(scope="module")
def model(case):
    path, _, kwargs = case
    return load_big_vision(str(path), model="proj.image_text.two_towers", config=kwargs)


def test_embeddings_and_scalars(model, case):
    _, g, _ = case
    np.testing.assert_allclose(_np(model.encode_image(g["inputs/image"])), g["outputs/zimg"], atol=ATOL)
    np.testing.assert_allclose(_np(model.encode_text(g["inputs/text"])), g["outputs/ztxt"], atol=ATOL)
    np.testing.assert_allclose(_np(model.t), g["outputs/t/parameter"], atol=ATOL)
    np.testing.assert_allclose(_np(model.temperature), g["outputs/t"], atol=1e-4)
    np.testing.assert_allclose(_np(model.b), g["outputs/b"], atol=ATOL)
    out = model({"image": g["inputs/image"], "labels": g["inputs/text"]})
    np.testing.assert_allclose(_np(out["zimg"]), g["outputs/zimg"], atol=ATOL)
    loss = model.compute_loss(x={"image": g["inputs/image"], "labels": g["inputs/text"]})
    np.testing.assert_allclose(_np(loss), g["outputs/siglip_loss"], atol=1e-4)


def test_every_text_intermediate(model, case):
    _, g, _ = case
    inter = model.text_encoder.get_intermediates(g["inputs/text"])
    keys = [k for k in g if k.startswith("outputs/txt/") and k[len("outputs/txt/"):] in inter]
    assert len(keys) == 14, keys
    for key in keys:
        np.testing.assert_allclose(_np(inter[key[len("outputs/txt/"):]]), g[key], atol=ATOL, err_msg=key)
    zt = _np(model.text_features(g["inputs/text"]))
    np.testing.assert_allclose(np.linalg.norm(zt, axis=-1, keepdims=True), g["outputs/txt/norm"], atol=1e-4)


def test_every_image_intermediate(model, case):
    _, g, _ = case
    inter = model.image_encoder.get_intermediates(g["inputs/image"])
    keys = [k for k in g if k.startswith("outputs/img/") and k[len("outputs/img/"):] in inter]
    assert len(keys) >= 14, keys
    for key in keys:
        np.testing.assert_allclose(_np(inter[key[len("outputs/img/"):]]), g[key], atol=ATOL, err_msg=key)
    zi = _np(model.image_features(g["inputs/image"]))
    np.testing.assert_allclose(np.linalg.norm(zi, axis=-1, keepdims=True), g["outputs/img/norm"], atol=1e-4)


def test_without_params_prefix_and_without_config(case):
    _, g, _ = case
    flat = {k[len("params/"):]: v for k, v in g.items() if k.startswith("params/")}
    model = load_big_vision(flat, model="proj.image_text.two_towers")
    np.testing.assert_allclose(_np(model.encode_text(g["inputs/text"])), g["outputs/ztxt"], atol=ATOL)
    np.testing.assert_allclose(_np(model.encode_image(g["inputs/image"])), g["outputs/zimg"], atol=ATOL)
    assert model.text_encoder.sequence_length == 8
    assert model.image_encoder.image_shape == (32, 32, 3)


def test_image_tower_only_via_prefix(case):
    path, g, _ = case
    from keras_vision.models import ViTBackbone

    tower = load_big_vision(f"{path}:img", model="vit", config={"pool_type": "map"})
    assert isinstance(tower, ViTBackbone)
    np.testing.assert_allclose(_np(tower(g["inputs/image"])["pre_logits"]), g["outputs/img/pre_logits"], atol=ATOL)


def test_dont_load_and_errors(case):
    _, g, kwargs = case
    flat = {k[len("params/"):]: v for k, v in g.items() if k.startswith("params/")}
    model = load_big_vision(flat, model="proj.image_text.two_towers", dont_load=["txt/head/.*"])
    assert not np.allclose(_np(model.text_encoder.head.kernel), flat["txt/head/kernel"])
    bad = dict(flat)
    bad.pop("txt/Encoder_0/encoder_norm/scale")
    with pytest.raises(ConversionError, match="encoder_norm/scale"):
        load_big_vision(bad, model="proj.image_text.two_towers")
    with pytest.raises(ConversionError, match="unexpected top-level"):
        load_big_vision(dict(flat, extra=np.zeros(1)), model="proj.image_text.two_towers")


def test_legacy_text_pos_embedding_and_scan(case):
    from keras_vision.convert import pyloop_to_scan

    _, g, _ = case
    flat = {k[len("params/"):]: v for k, v in g.items() if k.startswith("params/")}
    txt = {k[len("txt/"):]: v for k, v in flat.items() if k.startswith("txt/")}
    txt = pyloop_to_scan(txt)
    txt["Encoder_0/pos_embedding"] = txt.pop("pos_embedding")
    legacy = {**{k: v for k, v in flat.items() if not k.startswith("txt/")}, **{f"txt/{k}": v for k, v in txt.items()}}
    model = load_big_vision(legacy, model="proj.image_text.two_towers")
    np.testing.assert_allclose(_np(model.encode_text(g["inputs/text"])), g["outputs/ztxt"], atol=ATOL)
