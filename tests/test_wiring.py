"""The wiring: package imports alone fill every registry and reach every public symbol; no import cycle."""

import json
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]

_PROBE = r"""
import importlib, json, pkgutil
import keras_vision.convert  # the root imports the model families first
from keras_vision.api_export import PUBLIC_API
from keras_vision.convert import CONVERTERS
from keras_vision.models import MODELS
first = {"converters": CONVERTERS.names(), "models": MODELS.names()}
for pkg in ("layers", "losses", "models", "data", "optimizers", "distribution", "convert", "presets",
            "loading", "trainers", "evaluators", "export"):
    importlib.import_module("keras_vision." + pkg)
explicit = set(PUBLIC_API)
from keras_vision.data import PP_OPS, SOURCES
from keras_vision.evaluators import EVALUATORS, PREDICT_FNS
from keras_vision.losses import LOSSES
from keras_vision.presets import PRESETS
from keras_vision.trainers import PREPARATIONS, TRAINERS
registries = {name: r.names() for name, r in dict(
    pp_ops=PP_OPS, sources=SOURCES, evaluators=EVALUATORS, predict_fns=PREDICT_FNS, losses=LOSSES,
    presets=PRESETS, preparations=PREPARATIONS, trainers=TRAINERS).items()}
skip = (".cli.", ".backend.jax", ".backend.tensorflow", ".bench.")
import keras_vision
for info in pkgutil.walk_packages(keras_vision.__path__, "keras_vision."):
    if not any(s in info.name + "." for s in skip) and not info.name.endswith("__main__"):
        importlib.import_module(info.name)
print(json.dumps(dict(first=first, registries=registries, missed=sorted(set(PUBLIC_API) - explicit))))
"""


def test_package_imports_fill_every_registry_without_scanning():
    out = subprocess.run([sys.executable, "-c", _PROBE], cwd=ROOT, capture_output=True, text=True, check=True)
    found = json.loads(out.stdout.strip().splitlines()[-1])
    # `import keras_vision.convert` alone knows every family's converter and builder.
    assert {"vit", "proj.flexi.vit", "proj.image_text.two_towers"} <= set(found["first"]["converters"])
    assert {"vit", "proj.flexi.vit", "proj.image_text.two_towers"} <= set(found["first"]["models"])
    reg = found["registries"]
    assert {"decode", "resize_small", "tokenize", "randaug", "onehot"} <= set(reg["pp_ops"])
    assert {"shapes", "digits", "imagefolder", "tfrecord"} <= set(reg["sources"])
    assert {"classification", "fewshot_lsr", "zeroshot", "retrieval", "proj.distill.distance"} <= set(reg["evaluators"])
    assert {"predict", "predict_patch_size"} <= set(reg["predict_fns"])
    assert {"softmax_xent", "sigmoid_xent"} <= set(reg["losses"])
    assert reg["preparations"] == ["pretrain", "sentencepiece"]
    assert {"flexi", "distill"} <= set(reg["trainers"])
    assert reg["presets"]
    # Walking every module finds no public symbol that the package imports did not already reach.
    assert found["missed"] == []


def test_no_import_cycle_between_packages():
    tool = ROOT.parent / "shared" / "tools" / "package_cycles.py"
    if not tool.exists():
        import pytest

        pytest.skip(f"{tool} is not beside this checkout")
    out = subprocess.run([sys.executable, str(tool), "."], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "package import cycles: 0" in out.stdout


def test_test_folders_mirror_the_package():
    # tests/<x>/ tests keras_vision/<x>/ (tests/recipes: the recipes/ folder; fixtures: data).
    package = ROOT / "keras_vision"
    for folder in sorted(p for p in (ROOT / "tests").iterdir() if p.is_dir() and p.name != "__pycache__"):
        if folder.name in ("fixtures", "recipes"):
            continue
        assert (package / folder.name).is_dir(), f"tests/{folder.name}/ has no keras_vision/{folder.name}/"
        for sub in (p for p in folder.iterdir() if p.is_dir() and p.name != "__pycache__"):
            assert (package / folder.name / sub.name).is_dir(), f"tests/{folder.name}/{sub.name}/ mirrors nothing"
