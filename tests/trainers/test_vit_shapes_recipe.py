"""recipes/vit_shapes.py builds: valid optimizer keys, model, evaluators, in both modes."""

import pytest

from keras_vision import evaluators
from keras_vision.config import load_recipe
from keras_vision.optimizers import make_optimizer
from keras_vision.loading import model_from_config


@pytest.mark.parametrize("arg", ["", "runlocal", "variant=mu/8,steps=10"])
def test_recipe_builds(arg):
    config = load_recipe(f"recipes/vit_shapes.py:{arg}")
    make_optimizer(config, config.total_steps)  # raises on unknown optimizer keys
    model = model_from_config(config)
    assert model.output_shape[-1] == 10
    specs = evaluators.from_config(config, total_steps=config.total_steps)
    assert [s.name for s in specs] == ["val", "fewshot"]
    if arg.startswith("variant"):
        assert config.total_steps == 10 and config.model.variant == "mu/8"
