"""Presets: KerasHub layout, bit-identical round trips, the local registry, clear errors."""

import json
import os
import shutil

import keras
import keras_hub
import numpy as np
import pytest

import preset_helpers as P
from keras_vision import presets

pytestmark = pytest.mark.multibackend

PP = "decode|resize(32)|value_range(-1, 1)"
NAMES = ["circle", "square", "triangle", "star"]


@pytest.fixture
def task_preset(tmp_path):
    model = P.tiny_classifier(num_classes=4)
    metadata = {"description": "a tiny classifier", "source": "unit test"}
    path = presets.save_preset(model, tmp_path / "tiny_cls", metadata, pp=PP, class_names=NAMES, name="tiny_cls")
    return model, path


def _x():
    return np.random.default_rng(0).uniform(-1, 1, (2, 32, 32, 3)).astype("float32")


def test_layout_and_metadata(task_preset):
    model, path = task_preset
    files = sorted(os.listdir(path))
    assert files == ["config.json", "metadata.json", "model.weights.h5", "preprocessing.json", "task.json",
                     "task.weights.h5"]
    meta = json.load(open(os.path.join(path, "metadata.json")))
    assert meta["keras_version"] == keras.__version__ and meta["keras_hub_version"] == keras_hub.__version__
    kv = meta["keras_vision"]
    assert kv["name"] == "tiny_cls" and kv["description"] == "a tiny classifier" and kv["source"] == "unit test"
    assert kv["parameter_count"] == model.count_params() and kv["backend"] == keras.backend.backend()
    assert set(kv["files"]) == set(files) - {"metadata.json"}
    assert kv["files"]["model.weights.h5"] == os.path.getsize(os.path.join(path, "model.weights.h5"))
    prep = json.load(open(os.path.join(path, "preprocessing.json")))
    assert prep["image"] == {"pp": PP, "image_size": [32, 32]}
    assert prep["class_names"] == NAMES and prep["num_classes"] == 4 and prep["text"] is None
    assert json.load(open(os.path.join(path, "task.json")))["registered_name"] == "kv_test_presets>TinyClassifier"


def test_task_round_trip_is_bit_identical_through_every_loader(task_preset):
    model, path = task_preset
    want = keras.ops.convert_to_numpy(model(_x()))
    for loaded in (presets.from_preset(path), P.TinyClassifier.from_preset(path),
                   keras_hub.models.ImageClassifier.from_preset(path)):
        assert type(loaded) is P.TinyClassifier
        assert P.weights_equal(model, loaded)
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded(_x())), want)
    backbone = keras_hub.models.Backbone.from_preset(path)
    assert type(backbone) is P.TinyBackbone and P.weights_equal(model.backbone, backbone)
    fresh = presets.from_preset(path, load_weights=False)
    assert not P.weights_equal(model, fresh)


def test_plain_keras_model_round_trip(tmp_path):
    model = P.plain_model(num_classes=3)
    path = presets.save_preset(model, tmp_path / "plain", pp=PP, class_names=["a", "b", "c"])
    loaded = presets.from_preset(path)
    assert P.weights_equal(model, loaded)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded(_x())), keras.ops.convert_to_numpy(model(_x())))
    assert presets.load_preprocessing(path)["class_names"] == ["a", "b", "c"]


def test_registry_finds_local_presets_and_tables(task_preset, tmp_path, monkeypatch):
    model, path = task_preset
    monkeypatch.setenv("KERAS_VISION_PRESET_PATH", str(tmp_path))
    entry = presets.get_preset("tiny_cls")
    assert entry["available"] and entry["path"] == str(path) and entry["family"] == "custom"
    assert entry["parameter_count"] == model.count_params() and entry["source"] == "unit test"
    assert entry["class_name"] == "kv_test_presets>TinyClassifier"
    assert P.weights_equal(model, presets.from_preset("tiny_cls"))
    from keras_vision.presets import preset_registry

    # No leak into other tests: the registry table is restored afterwards.
    monkeypatch.setattr(preset_registry.PRESETS, "_table", dict(preset_registry.PRESETS.items()))
    presets.register_presets({"made_by_demo": {"path": str(tmp_path / "not_yet"), "description": "demo output",
                                               "produced_by": "make demo"}}, family="vit")
    listed = {e["name"]: e for e in presets.list_presets()}
    assert listed["made_by_demo"]["available"] is False and listed["made_by_demo"]["family"] == "vit"
    with pytest.raises(presets.PresetError, match="does not hold a preset yet; make it with: make demo"):
        presets.from_preset("made_by_demo")
    with pytest.raises(presets.PresetError, match=r"Unknown preset 'nope'\. Known presets: .*tiny_cls"):
        presets.from_preset("nope")


# --- incomplete / inconsistent presets ------------------------------------------------------
@pytest.mark.parametrize("remove, message", [
    ("config.json", "missing config.json (the model architecture"),
    ("model.weights.h5", "missing model.weights.h5 (the model weights)"),
    ("task.weights.h5", "missing task.weights.h5 (the task's own weights"),
    ("metadata.json", "missing metadata.json"),
])
def test_missing_files_are_listed(task_preset, remove, message):
    _, path = task_preset
    os.remove(os.path.join(path, remove))
    with pytest.raises(presets.PresetError) as err:
        presets.from_preset(path)
    text = str(err.value)
    assert message in text and "A preset needs at least config.json, model.weights.h5, metadata.json" in text
    assert "found: " in text and remove not in text.split("found: ")[1]


def test_class_mismatch_truncated_file_and_unknown_class(task_preset):
    _, path = task_preset
    prep_file = os.path.join(path, "preprocessing.json")
    prep = json.load(open(prep_file))
    prep["class_names"] = ["only", "three", "names"]
    json.dump(prep, open(prep_file, "w"))
    with open(os.path.join(path, "model.weights.h5"), "ab") as f:
        f.write(b"garbage")
    config_file = os.path.join(path, "task.json")
    config = json.load(open(config_file))
    config["registered_name"] = "kv_test_presets>NoSuchClassifier"
    json.dump(config, open(config_file, "w"))
    problems = presets.preset_problems(path)
    assert any("lists 3 class names but the model config has num_classes=4" in p for p in problems)
    assert any("model.weights.h5 has" in p and "metadata.json recorded" in p for p in problems)
    assert any("names class 'kv_test_presets>NoSuchClassifier', which is not registered" in p for p in problems)
    with pytest.raises(presets.PresetError, match="3 class names"):
        presets.from_preset(path)


def test_plain_model_class_mismatch_is_caught_after_loading(tmp_path):
    path = presets.save_preset(P.plain_model(num_classes=3), tmp_path / "plain", pp=PP, class_names=["a", "b", "c"])
    prep_file = os.path.join(path, "preprocessing.json")
    prep = json.load(open(prep_file))
    prep["class_names"], prep["num_classes"] = ["a", "b"], None
    json.dump(prep, open(prep_file, "w"))
    with pytest.raises(presets.PresetError, match="lists 2 class names but the loaded model has 3 outputs"):
        presets.from_preset(path)


def test_not_a_preset_and_bad_json(tmp_path):
    (tmp_path / "empty").mkdir()
    expected = "(?s)missing config.json.*missing metadata.json.*missing model.weights.h5.*found: nothing"
    with pytest.raises(presets.PresetError, match=expected):
        presets.from_preset(tmp_path / "empty")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "config.json").write_text("{not json")
    assert any("config.json is not valid JSON" in p for p in presets.preset_problems(tmp_path / "bad"))


def test_save_preset_refuses_mismatched_class_names_and_non_empty_folders(tmp_path):
    model = P.tiny_classifier(num_classes=4)
    with pytest.raises(presets.PresetError, match="Got 2 class names for a model with 4 classes"):
        presets.save_preset(model, tmp_path / "x", class_names=["a", "b"])
    assert not (tmp_path / "x").exists()
    presets.save_preset(model, tmp_path / "y", class_names=NAMES)
    with pytest.raises(FileExistsError, match="not empty"):
        presets.save_preset(model, tmp_path / "y")
    presets.save_preset(model, tmp_path / "y", overwrite=True)
    with pytest.raises(presets.PresetError, match="without a tokenizer"):
        presets.save_preset(model, tmp_path / "z", text={"max_len": 8})


def test_copied_preset_folder_still_loads(task_preset, tmp_path):
    model, path = task_preset
    copy = shutil.copytree(path, tmp_path / "copied")
    assert P.weights_equal(model, presets.from_preset(copy))
