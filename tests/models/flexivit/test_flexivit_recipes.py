"""The FlexiViT recipes: configs resolve, pp strings build, and runlocal trains through the recipe runner."""

import pytest
from keras import ops

from keras_vision.config import load_recipe

RECIPES = ["recipes/flexivit_i21k.py", "recipes/flexivit_i1k.py"]


@pytest.mark.parametrize("recipe", RECIPES)
@pytest.mark.parametrize("arg", ["", ":runlocal"])
def test_recipe_configs_resolve(recipe, arg):
    from keras_vision.data import get_preprocess_fn
    from keras_vision.models.flexivit.flexivit_builder import flexivit_kwargs
    from keras_vision.trainers.flexi_trainer import patch_sizes_from_seqhw

    c = load_recipe(recipe + arg)
    assert c.trainer == "flexi" and c.model_name == "proj.flexi.vit"
    backbone, head = flexivit_kwargs(**c.model)  # the builder accepts every model key
    res = backbone["image_shape"][0]
    sizes = patch_sizes_from_seqhw(res, c.flexi.seqhw.v)
    assert all(res % p == 0 for p in sizes)
    if not arg:
        assert res == 240 and sizes == [48, 40, 30, 24, 20, 16, 15, 12, 10, 8]
    get_preprocess_fn(c.input.pp)
    evaluated = set()
    for ev in c.evals.values():
        get_preprocess_fn(ev.pp_fn)
        evaluated.add(ev.pred_kw["patch_size"])
    assert evaluated == set(sizes)  # one evaluator per trained patch size (big_vision predict_seqhw)


@pytest.mark.slow
def test_runlocal_trains_through_the_recipe_runner(tmp_path):
    """`keras_vision.trainers.train` drives FlexiTrainer.fit like model.fit (callbacks, evals, checkpoints)."""
    from keras_vision.loading import model_from_config
    from keras_vision.trainers import train
    from keras_vision.trainers.flexi_trainer import FlexiTrainer

    c = load_recipe("recipes/flexivit_i21k.py:runlocal")
    c.total_steps, c.log_training_steps, c.ckpt_steps = 6, 3, 6
    c.tensorboard = False
    c.schedule.warmup_steps = 2
    for ev in c.evals.values():
        ev.log_steps = 6
        ev.data.split = "val[:32]"

    def make_model():
        model = model_from_config(c)
        # What the runner does for config.trainer == "flexi" (see FlexiTrainer.from_recipe).
        model.fit = FlexiTrainer.from_recipe(model, c).fit
        return model

    result = train(c, tmp_path / "run", model=make_model, verbose=False)
    assert result.summary["final_step"] == 6
    assert set(result.summary["evals"]) == {f"val{s:02d}/{m}" for s in (2, 4, 8) for m in ("prec@1", "loss")}
    assert int(ops.convert_to_numpy(result.model.optimizer.iterations)) == 6
