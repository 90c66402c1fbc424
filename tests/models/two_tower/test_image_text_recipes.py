"""Image-text recipes: configs build in every mode; runlocal trains end to end; run preparation."""

import json
import pathlib

import numpy as np
import pytest

from keras_vision.config import ConfigDict
from keras_vision.config import load_recipe
from keras_vision.trainers import prepare_run
from keras_vision.trainers.run_preparation import prepare_sentencepiece
from keras_vision.trainers.run_preparation import substitute_workdir
from keras_vision.optimizers import make_optimizer

RECIPES = ["siglip_shapes", "lit_shapes", "siglip_lit_coco", "siglip_b16_webli"]


@pytest.mark.parametrize("name", RECIPES)
@pytest.mark.parametrize("arg", ["", "runlocal"])
def test_recipe_configs(name, arg):
    config = load_recipe(f"recipes/{name}.py:{arg}")
    assert config.model_name == "proj.image_text.two_towers"
    assert config.loss is None and config.label_key is None
    make_optimizer(config, config.total_steps)  # raises on unknown optimizer keys
    if arg == "runlocal":
        assert config.total_steps <= 20 and config.input.batch_size <= 8
        assert all(ev.type in ("zeroshot", "retrieval", "discriminative_classifier") for ev in config.evals.values())
        assert "tokenize(" in config.input.pp and "{workdir}" in config.input.pp
    if name.startswith("lit") or name == "siglip_lit_coco":
        assert config.schedule[0] == ("img/.*", None)  # the locked image tower


def test_substitute_workdir_nested():
    config = ConfigDict(a="{workdir}/x", b=[("{workdir}", 1)], c=dict(d="tokenize(model='{workdir}/m')"))
    out = substitute_workdir(config, "/run")
    assert out.a == "/run/x" and out.b == [("/run", 1)] and out.c.d == "tokenize(model='/run/m')"
    assert isinstance(out, ConfigDict) and config.a == "{workdir}/x"


def test_prepare_sentencepiece_trains_once(tmp_path):
    config = ConfigDict(
        sentencepiece=dict(path="{workdir}/spm.model", data=dict(name="shapes", split="train[:60]"),
                           texts_key="texts", vocab_size=64, lower=True),
        input=dict(pp="tokenize(max_len=8, model='{workdir}/spm.model')"),
    )
    out = prepare_run(config, tmp_path, train_recipe=None)
    model = tmp_path / "spm.model"
    assert model.exists() and out.input.pp == f"tokenize(max_len=8, model='{tmp_path}/spm.model')"
    mtime = model.stat().st_mtime_ns
    prepare_sentencepiece(out, tmp_path)
    assert model.stat().st_mtime_ns == mtime  # a resumed run reuses the vocabulary
    import sentencepiece

    sp = sentencepiece.SentencePieceProcessor(model_file=str(model))
    assert sp.eos_id() == 1 and sp.pad_id() == 0
    assert sp.decode(sp.encode("a red circle at the top")) == "a red circle at the top"


@pytest.mark.slow
def test_siglip_shapes_runlocal_end_to_end(tmp_path):
    from keras_vision.trainers import train

    workdir = tmp_path / "run"
    # train() in Python prepares the run (the SentencePiece vocabulary) as the CLI does.
    result = train(load_recipe("recipes/siglip_shapes.py:runlocal"), workdir, verbose=False)
    assert (workdir / "shapes_spm.model").exists()
    summary = json.loads((pathlib.Path(workdir) / "summary.json").read_text())
    assert summary["status"] == "completed"
    evals = {k: v["value"] for k, v in summary["evals"].items()}
    assert 0.0 <= evals["zeroshot/accuracy"] <= 1.0
    assert {"retrieval/img2txt/recall@1", "retrieval/txt2img/recall@5"} <= set(evals)
    train_metrics = summary["final_train_metrics"]
    assert np.isfinite(train_metrics.get("training_loss", train_metrics.get("loss")))
    assert type(result.model).__name__ == "TwoTowerModel"
