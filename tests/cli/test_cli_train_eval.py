"""End to end through the CLI: train the runlocal recipe, evaluate the workdir, config checks."""

import json

import pytest

from keras_vision.cli import main as cli

RECIPE = "recipes/vit_shapes.py:runlocal"


@pytest.mark.slow
def test_train_then_eval_runlocal(tmp_path, capsys):
    workdir = tmp_path / "run"
    assert cli.main(["train", RECIPE, "--workdir", str(workdir)]) == 0
    out = capsys.readouterr().out
    assert "img/s" in out and "ETA" in out and "[step 20/20 100.0%]" in out
    summary = json.loads((workdir / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["final_step"] == 20
    assert {"val/prec@1", "val/loss", "z/shapes_1shot", "z/shapes_5shot-seed-0"} <= set(summary["evals"])
    assert summary["evals"]["val/prec@1"]["step"] == 20
    assert (workdir / "metrics.png").stat().st_size > 5000
    assert list((workdir / "tensorboard").glob("events.out.tfevents.*"))

    # The standalone evaluator on the last checkpoint reproduces the in-training eval.
    assert cli.main(["eval", str(workdir), "--only", "val"]) == 0
    result = json.loads((workdir / "eval_step20.json").read_text())
    assert result["step"] == 20
    for key in ("val/prec@1", "val/loss"):
        assert result["results"][key] == pytest.approx(summary["evals"][key]["value"], abs=1e-5)

    # A saved model (not a workdir) is evaluated with the evals of a recipe.
    from keras_vision.config import ConfigDict
    from keras_vision.loading import CheckpointManager
    from keras_vision.loading import model_from_config

    model = model_from_config(ConfigDict(summary["config"]))
    CheckpointManager(workdir / "checkpoints").restore(model, weights_only=True)
    model.save(tmp_path / "model.keras")
    out_json = tmp_path / "eval.json"
    assert cli.main(["eval", str(tmp_path / "model.keras"), "--recipe", RECIPE, "--only", "val",
                     "--json", str(out_json)]) == 0
    saved = json.loads(out_json.read_text())["results"]
    assert saved["val/prec@1"] == pytest.approx(summary["evals"]["val/prec@1"]["value"], abs=1e-5)
    assert cli.main(["eval", str(tmp_path / "model.keras")]) == 2
    assert "give --recipe" in capsys.readouterr().err

    # Same command again: the run is complete, nothing changes; another config: clear error.
    assert cli.main(["train", RECIPE, "--workdir", str(workdir), "--quiet"]) == 0
    capsys.readouterr()
    assert cli.main(["train", RECIPE, "--workdir", str(workdir), "--set", "lr=0.5"]) == 2
    err = capsys.readouterr().err
    assert "different config" in err and "lr: 0.001 -> 0.5" in err and "Traceback" not in err
    assert cli.main(["eval", str(workdir), "--only", "nope"]) == 2
    assert "Unknown eval(s) ['nope']" in capsys.readouterr().err
