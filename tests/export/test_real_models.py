"""The real families through presets, `keras-vision convert|export|presets` and the exporters."""

import json
import pathlib

import keras
import numpy as np
import pytest
import tensorflow as tf

import export_helpers as H
from keras_vision import export as kv_export
from keras_vision import presets
from keras_vision.cli import main as cli

pytestmark = pytest.mark.multibackend

VIT_CONFIG = {"num_classes": 10, "patch_size": [8, 8], "width": 64, "depth": 2, "mlp_dim": 128, "num_heads": 2,
              "pool_type": "gap", "posemb": "learn"}
FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures"
DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def _max_error(manifest):
    return max(v for outs in manifest["parity"].values() for v in outs.values() if isinstance(v, float))


@pytest.fixture(scope="module")
def vit_checkpoint(tmp_path_factory):
    """The golden big_vision ViT (gap, learned posemb) as a params-only .npz, with its outputs."""
    with np.load(FIXTURES / "vit_gap_learn.npz") as f:
        golden = {k: f[k] for k in f.files}
    path = tmp_path_factory.mktemp("ckpt") / "vit_gap_learn.npz"
    np.savez(path, **{k: v for k, v in golden.items() if k.startswith("params/")})
    return path, golden


def test_convert_cli_writes_a_preset_that_matches_big_vision(vit_checkpoint, tmp_path, capsys, monkeypatch):
    ckpt, golden = vit_checkpoint
    out = tmp_path / "presets" / "vit_golden"
    rc = cli.main(["convert", str(ckpt), "--model", "vit", "--config", json.dumps(VIT_CONFIG), "--out", str(out),
                   "--pp", H.IMAGE_PP, "--class-names", ",".join(DIGITS), "--description", "golden ViT"])
    assert rc == 0, capsys.readouterr().err
    assert "preset:" in capsys.readouterr().out
    model = presets.from_preset(out)
    logits = keras.ops.convert_to_numpy(model(golden["inputs/image"]))
    np.testing.assert_allclose(logits, golden["outputs/logits"], atol=1e-5)
    meta = json.loads((out / "metadata.json").read_text())["keras_vision"]
    assert meta["source"] == str(ckpt.resolve()) and meta["model_config"] == VIT_CONFIG
    assert meta["family"] == "vit" and meta["description"] == "golden ViT"

    # The converted preset is listed and shown by name, and exports with its pp and class names.
    monkeypatch.setenv("KERAS_VISION_PRESET_PATH", str(tmp_path / "presets"))
    assert cli.main(["presets", "list"]) == 0
    listing = capsys.readouterr().out
    assert "vit_golden" in listing and "vit" in listing and str(ckpt.resolve()) in listing
    assert cli.main(["presets", "show", "vit_golden"]) == 0
    shown = capsys.readouterr().out
    assert "class_names (10): zero, one" in shown and H.IMAGE_PP in shown and "ViTImageClassifier" in shown
    export_dir = tmp_path / "serving" / "vit" / "1"
    assert cli.main(["export", "vit_golden", str(export_dir)]) == 0
    summary = capsys.readouterr().out
    assert "serving_default(images:string[-1])" in summary and "max |SavedModel - Keras|" in summary
    manifest = kv_export.read_manifest(export_dir)
    assert manifest["source"]["type"] == "preset" and manifest["source"]["name"] == "vit_golden"
    assert manifest["class_names"] == DIGITS and manifest["preprocessing"]["pp"] == H.IMAGE_PP
    assert _max_error(manifest) <= 1e-5


def test_convert_rejects_another_architecture(tmp_path, capsys):
    with np.load(FIXTURES / "two_towers_siglip.npz") as f:
        np.savez(tmp_path / "siglip.npz", **{k: f[k] for k in f.files if k.startswith("params/")})
    rc = cli.main(["convert", str(tmp_path / "siglip.npz"), "--model", "vit", "--config", json.dumps(VIT_CONFIG),
                   "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 2
    assert "does not fit model 'vit'" in err and "siglip.npz" in err and "missing from the checkpoint" in err
    assert not (tmp_path / "out").exists()
    assert cli.main(["convert", str(tmp_path / "siglip.npz"), "--model", "vit_nope", "--out", str(tmp_path / "o")]) == 2
    assert "Unknown --model 'vit_nope'" in capsys.readouterr().err
    assert cli.main(["convert", str(tmp_path / "missing.npz"), "--out", str(tmp_path / "o")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert cli.main(["convert", str(tmp_path / "siglip.npz"), "--config", "[1, 2]", "--out", str(tmp_path / "o")]) == 2
    assert "--config must be a dict" in capsys.readouterr().err


def test_two_tower_preset_round_trip_and_export(tmp_path, spm_model):
    from keras_vision.models import build_model

    keras.utils.set_random_seed(2)
    model = build_model("proj.image_text.two_towers",
                        image=dict(variant="mu/8", pool_type="map", image_size=32),
                        text=dict(variant="mu", vocab_size=64, seq_len=H.MAX_LEN),
                        out_dim=(None, 32), temperature_init=10.0, bias_init=-10.0)
    path = presets.save_preset(
        model, tmp_path / "siglip_tiny", {"description": "tiny SigLIP"}, pp="resize(32)|value_range(-1, 1)",
        tokenizer=spm_model, text=dict(max_len=H.MAX_LEN, eos="sticky", pad_value=3), class_names=["circle", "star"],
        prompt_templates=["a photo of a {}."], activation="sigmoid")
    files = sorted(p.name for p in (tmp_path / "siglip_tiny").rglob("*") if p.is_file())
    assert {"vocabulary.spm", "tokenizer.json", "preprocessing.json", "model.weights.h5"} <= set(files)
    loaded = presets.from_preset(path)
    assert type(loaded).__name__ == "TwoTowerModel"
    assert all(a.dtype == b.dtype and np.array_equal(a, b) for a, b in zip(model.get_weights(), loaded.get_weights()))
    import keras_hub

    assert type(keras_hub.models.Backbone.from_preset(path)).__name__ == "TwoTowerModel"
    tok = presets.load_tokenizer(path)
    assert tok.config()["pad_value"] == 3 and tok.max_len == H.MAX_LEN
    manifest = kv_export.export(path, tmp_path / "serving" / "siglip" / "1")
    assert manifest["task"] == "two_tower" and manifest["class_names"] == ["circle", "star"]
    assert manifest["prompt_templates"] == ["a photo of a {}."] and manifest["text"]["pad_value"] == 3
    assert manifest["signatures"]["serving_default"]["inputs"] == {"images": {"dtype": "string", "shape": [-1]}}
    assert _max_error(manifest) <= 1e-5


def test_export_a_training_workdir(tmp_path, capsys):
    """A workdir as `keras-vision train` leaves it: config.json + checkpoints/ckpt-N."""
    from keras_vision.config import load_recipe
    from keras_vision.loading import model_from_config
    from keras_vision.loading import CheckpointManager

    recipe = pathlib.Path(__file__).resolve().parents[2] / "recipes" / "vit_shapes.py"
    config = load_recipe(f"{recipe}:runlocal")
    workdir = tmp_path / "run"
    workdir.mkdir()
    (workdir / "config.json").write_text(config.to_json())
    keras.utils.set_random_seed(3)
    model = model_from_config(config)
    CheckpointManager(workdir / "checkpoints").save(10, model)
    keras.utils.set_random_seed(4)  # the export builds the model afresh: its weights must come from ckpt-10
    out = tmp_path / "serving" / "1"
    assert cli.main(["export", str(workdir), str(out), "--check-tf-only"]) == 0, capsys.readouterr().err
    assert "TF-only process (no jax/keras_vision): ok" in capsys.readouterr().out
    manifest = kv_export.read_manifest(out)
    assert manifest["source"]["type"] == "workdir" and manifest["source"]["step"] == 10
    prep = manifest["preprocessing"]
    # The eval pp has no resize (shapes images are 32x32 already): serving adds one.
    assert prep["added_ops"] == ["resize(32)"] and prep["serving_pp"] == "resize(32)|value_range(-1, 1)"
    from keras_vision.data import shapes

    assert manifest["class_names"] == list(shapes.class_names(10))
    assert _max_error(manifest) <= 1e-5
    served = tf.saved_model.load(str(out))
    x = np.stack(H.images(seed=13, sizes=((32, 32), (32, 32))))
    got = served.signatures["predict_images"](images=tf.constant(x))["logits"].numpy()
    want = keras.ops.convert_to_numpy(model(x.astype(np.float32) / 127.5 - 1))
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert cli.main(["export", str(workdir), str(tmp_path / "s2"), "--step", "7"]) == 2
    assert "No checkpoint for step 7" in capsys.readouterr().err
