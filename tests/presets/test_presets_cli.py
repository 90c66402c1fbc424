"""`keras-vision presets list|show` on local folders and table entries."""

import json
import os

import preset_helpers as P
from keras_vision import presets
from keras_vision.cli import main as cli


def test_list_and_show(tmp_path, monkeypatch, capsys):
    model = P.tiny_classifier(num_classes=4)
    presets.save_preset(model, tmp_path / "zoo" / "tiny", {"description": "tiny one", "source": "cli test"},
                        pp="resize(32)|value_range(-1, 1)", class_names=["a", "b", "c", "d"])
    monkeypatch.setenv("KERAS_VISION_PRESET_PATH", str(tmp_path / "zoo"))
    assert cli.main(["presets", "list"]) == 0
    out = capsys.readouterr().out
    assert "NAME" in out and "tiny" in out and "cli test" in out and f"{model.count_params() / 1e3:.1f}K" in out
    assert cli.main(["presets", "list", "--json"]) == 0
    entries = {e["name"]: e for e in json.loads(capsys.readouterr().out)}
    assert entries["tiny"]["available"] and entries["tiny"]["parameter_count"] == model.count_params()
    assert cli.main(["presets", "show", "tiny"]) == 0
    out = capsys.readouterr().out
    assert "class_names (4): a, b, c, d" in out and "pp: resize(32)|value_range(-1, 1)" in out
    assert "task.weights.h5" in out and "PROBLEMS" not in out

    os.remove(tmp_path / "zoo" / "tiny" / "task.weights.h5")
    assert cli.main(["presets", "show", str(tmp_path / "zoo" / "tiny")]) == 1
    assert "PROBLEMS:" in capsys.readouterr().out

    from keras_vision.presets import preset_registry

    # No leak into other tests: the registry table is restored afterwards.
    monkeypatch.setattr(preset_registry.PRESETS, "_table", dict(preset_registry.PRESETS.items()))
    presets.register_presets({"later": {"path": str(tmp_path / "none"), "description": "made later",
                                        "produced_by": "keras-vision convert x.npz --out ..."}}, family="demo")
    assert cli.main(["presets", "show", "later"]) == 1
    out = capsys.readouterr().out
    assert "not available" in out and "produced_by: keras-vision convert x.npz" in out
    assert cli.main(["presets", "show", "no_such_preset"]) == 2
    assert "Unknown preset 'no_such_preset'" in capsys.readouterr().err
