"""Recipe configuration: `ConfigDict`, `parse_arg`, recipe loading and `--set` overrides.

A recipe is a Python file `recipes/NAME.py` whose `get_config(arg=None)` returns a
`ConfigDict` with big_vision's keys (`input`, `model_name`, `model`, `lr`, `evals`, ...).
On the command line a recipe is named with its argument string, big_vision style:

    keras-vision train recipes/vit_shapes.py:runlocal,variant=mu/8 --workdir runs/x \
        --set lr=3e-3 --set input.batch_size=16

`--set KEY=VALUE` only changes keys that already exist (a typo would otherwise be
silently ignored by the recipe runner); `--set +KEY=VALUE` (a leading `+`, as in Hydra)
adds a new key, creating missing parent dicts. VALUE is a Python literal
(`ast.literal_eval`: numbers, strings, tuples, lists, dicts, True/False/None); anything
that is not a literal is taken as a plain string (`--set model.variant=S/16`).
"""

from keras_vision.config.config_dict import ConfigDict
from keras_vision.config.errors import ConfigError
from keras_vision.config.overrides import apply_overrides
from keras_vision.config.recipe_args import autotype
from keras_vision.config.recipe_args import parse_arg
from keras_vision.config.recipe_loader import find_recipes
from keras_vision.config.recipe_loader import load_recipe
from keras_vision.config.recipe_loader import split_recipe_arg
from keras_vision.config.steps import get_steps

__all__ = [
    "ConfigDict",
    "ConfigError",
    "apply_overrides",
    "autotype",
    "find_recipes",
    "get_steps",
    "load_recipe",
    "parse_arg",
    "split_recipe_arg",
]
