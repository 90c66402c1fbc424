"""TwoTowerModel: naming, inputs, fit, LiT freezing, precomputed embeddings, save/load."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_vision.models.two_tower import TwoTowerModel
from keras_vision.testing import run_backbone_test

pytestmark = pytest.mark.multibackend


def _np(x):
    return np.asarray(ops.convert_to_numpy(x))


def test_variable_paths_follow_big_vision(make_model):
    model = make_model()
    paths = [v.path for v in model.weights]
    assert "t" in paths and "b" in paths
    assert all(p in ("t", "b") or p.startswith(("img/", "txt/")) for p in paths), paths
    assert "img/MAPHead_0/probe" in paths and "txt/head/kernel" in paths
    assert "txt/Encoder_0/encoderblock_0/MultiHeadDotProductAttention_0/query/kernel" in paths
    np.testing.assert_allclose(_np(model.t), [np.log(10.0)], rtol=1e-6)
    np.testing.assert_allclose(_np(model.b), [-10.0])
    assert make_model(bias_init=None).b is None


def test_embeddings_unit_norm_and_input_layouts(make_model, batch):
    model = make_model()
    out = model(batch)
    np.testing.assert_allclose(np.linalg.norm(_np(out["zimg"]), axis=-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(_np(out["ztxt"]), axis=-1), 1.0, atol=1e-5)
    hub = model({"images": batch["image"], "token_ids": batch["labels"]})
    np.testing.assert_allclose(_np(hub["ztxt"]), _np(out["ztxt"]), atol=1e-6)
    assert set(model({"image": batch["image"]})) == {"zimg"}
    assert set(model({"labels": batch["labels"]})) == {"ztxt"}
    np.testing.assert_allclose(_np(model.encode_image(batch["image"])), _np(out["zimg"]), atol=1e-6)
    logits = _np(model.similarity(out["zimg"], out["ztxt"]))
    np.testing.assert_allclose(logits, _np(out["zimg"]) @ _np(out["ztxt"]).T * 10.0 - 10.0, atol=1e-4)
    with pytest.raises(ValueError, match="image"):
        model({"foo": batch["image"]})


def test_precomputed_image_embeddings(make_model, batch):
    model = make_model()
    feats = _np(model.image_features(batch["image"]))
    out = model({"image_embeddings": feats, "labels": batch["labels"]})
    np.testing.assert_allclose(_np(out["zimg"]), _np(model.encode_image(batch["image"])), atol=1e-6)
    l1 = model.compute_loss(x={"image_embeddings": feats, "labels": batch["labels"]})
    l2 = model.compute_loss(x=batch)
    np.testing.assert_allclose(_np(l1), _np(l2), rtol=1e-5)


@pytest.mark.parametrize("loss", ["sigmoid", "softmax"])
def test_fit_reduces_loss(make_model, batch, loss):
    model = make_model(loss=loss)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    history = model.fit(batch, batch_size=8, epochs=6, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < losses[0] - 0.05, losses
    # fit(images, token ids) (a recipe runner popping "labels" as y) trains too.
    h2 = model.fit(batch["image"], batch["labels"], batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(h2.history["loss"][0])


def test_lit_frozen_image_tower_is_bit_identical(make_model, batch):
    from keras_vision.optimizers import make_optimizer

    model = make_model()
    config = dict(optax_name="scale_by_adam", lr=1e-2, wd=1e-4, grad_clip_norm=1.0,
                  schedule=[("img/.*", None), (".*", dict(decay_type="cosine", warmup_steps=1))])
    model.compile(optimizer=make_optimizer(config, total_steps=4))
    before = {v.path: _np(v).copy() for v in model.weights}
    model.fit(batch, batch_size=4, epochs=2, verbose=0)
    changed = {v.path for v in model.weights if not np.array_equal(_np(v), before[v.path])}
    img = {p for p in before if p.startswith("img/")}
    assert img and not (changed & img), sorted(changed & img)
    assert "txt/head/kernel" in changed and "t" in changed and "b" in changed


OUTPUT_SHAPES = {"zimg": (8, 32), "ztxt": (8, 32)}


def test_config_round_trip_and_keras_save_load(make_model, batch, tmp_path):
    model = make_model(loss="softmax")
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    result = run_backbone_test(model, batch, tmp_path, expected_output_shape=OUTPUT_SHAPES)
    for loaded in (result["clone"], result["restored"], result["from_preset"]):
        assert loaded.loss_name == "softmax"
        np.testing.assert_allclose(_np(loaded.t), _np(model.t))


def test_preset_round_trip(make_model, batch, tmp_path):
    model = make_model()
    result = run_backbone_test(model, batch, tmp_path, expected_output_shape=OUTPUT_SHAPES)
    for loaded in (result["restored"], result["from_preset"]):
        np.testing.assert_allclose(_np(loaded.b), _np(model.b))


def test_towers_built_outside_scope_get_prefixed(batch):
    from keras_vision.models import ViTBackbone
    from keras_vision.models import ViTImageClassifier
    from keras_vision.models.two_tower import TextTransformerBackbone

    image = ViTBackbone(image_shape=(16, 16, 3), patch_size=8, hidden_dim=32, num_layers=1, num_heads=2, pooling="gap")
    image = ViTImageClassifier(image, num_classes=16, head_zeroinit=False)
    text = TextTransformerBackbone(40, 6, 32, 1, 2, 64, output_dim=16)
    model = TwoTowerModel(image, text, temperature_init=1.0)
    paths = [v.path for v in model.weights]
    assert "img/head/kernel" in paths and "txt/head/kernel" in paths and "img/embedding/kernel" in paths
    # The rebuilt towers keep the given weights.
    np.testing.assert_allclose(_np(model.image_features(batch["image"])), _np(image(batch["image"])), atol=1e-6)
    assert _np(model.encode_text(batch["labels"])).shape == (8, 16)
    assert model.loss_name == "auto" and model.bias_init is None


def test_image_init_from_pretrained_classifier(tmp_path, batch, make_model, tiny_image_config):
    # LiT: the image tower starts from a classifier's backbone (its 10-class head is dropped).
    from keras_vision.models import build_model

    from keras_vision.config import ConfigDict
    from keras_vision.loading import model_from_config

    classifier = build_model("vit", **dict(tiny_image_config, num_classes=10))
    path = str(tmp_path / "classifier.keras")
    classifier.save(path)
    # A recipe names the tower init by path (the loader loads it); the builder takes the model.
    from_path = model_from_config(ConfigDict(model_name="proj.image_text.two_towers", model=dict(
        image=tiny_image_config, text=dict(width=32, depth=1, mlp_dim=64, num_heads=2, vocab_size=40, seq_len=6), out_dim=(None, 32), temperature_init=10.0, bias_init=-10.0,
        image_init=path)))
    for model in (from_path, make_model(image_init=classifier)):
        np.testing.assert_allclose(
            _np(model.image_features(batch["image"])),
            _np(classifier.backbone(batch["image"])["pre_logits"]),
            atol=1e-6,
        )
        assert all(v.path.startswith(("img/", "txt/", "t", "b")) for v in model.weights)
    with pytest.raises(TypeError, match="A tower init is a loaded keras.Model here"):
        make_model(image_init=path)
