"""`keras_vision.trainers.train(load_recipe("recipes/<r>.py:runlocal"), workdir)` runs every recipe in Python.

The CLI is a thin shell over `train`: run preparation (SentencePiece vocabularies,
pre-training stages, teacher training) is part of `train` itself, so a script that calls
it gets exactly what `keras-vision train` does. Each recipe runs its runlocal mode
unchanged (10-60 steps; its own end-to-end tests check the numbers).
"""

import json
import pathlib

import numpy as np
import pytest

from keras_vision.config import load_recipe
from keras_vision.trainers import train

# Recipes whose runlocal a family test already trains unchanged through `train()`, with
# more assertions; running them twice would only cost CI time.
TRAINED_ELSEWHERE = {
    "distill_bit_i1k": "tests/trainers/test_distiller_recipes.py::test_distill_bit_i1k_runlocal",
    "distill_shapes": "tests/trainers/test_distiller_recipes.py::test_distill_shapes_runlocal_trains_teacher_then_student",
    "siglip_shapes": "tests/models/two_tower/test_image_text_recipes.py::test_siglip_shapes_runlocal_end_to_end",
}
RECIPES = sorted(p.stem for p in pathlib.Path("recipes").glob("*.py") if p.stem not in TRAINED_ELSEWHERE)


def test_recipes_trained_elsewhere_are_trained_there():
    for name, test in TRAINED_ELSEWHERE.items():
        path, function = test.split("::")
        source = pathlib.Path(path).read_text()
        assert f"def {function}(" in source and f"{name}.py" in source and ":runlocal" in source, test


@pytest.mark.slow
@pytest.mark.parametrize("name", RECIPES)
def test_recipe_runlocal_trains_from_python(name, tmp_path):
    config = load_recipe(f"recipes/{name}.py:runlocal")  # as the CLI loads it
    workdir = tmp_path / "run"
    train(config, workdir, verbose=False)
    summary = json.loads((workdir / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["final_step"] == config.total_steps
    loss = summary["final_train_metrics"].get("training_loss", summary["final_train_metrics"].get("loss"))
    assert np.isfinite(loss)
    # Every evaluator of the recipe ran and wrote finite values.
    evals = summary["evals"]
    for name, spec in (config.get("evals") or {}).items():
        if spec.type == "fewshot_lsr":  # keys "<a|z>/<dataset>_<n>shot" (big_vision's display order)
            values = [v["value"] for k, v in evals.items() if "shot" in k]
        else:
            values = [v["value"] for k, v in evals.items() if k.startswith(f"{name}/")]
        assert values and all(np.isfinite(values)), (name, sorted(evals))
    # The saved config holds what the run used: no "{workdir}" placeholder is left.
    saved = (workdir / "config.json").read_text()
    assert "{workdir}" not in saved
    # ... and numbers, not a variant (expanded once, when `train` resolved the config).
    assert '"variant"' not in saved
