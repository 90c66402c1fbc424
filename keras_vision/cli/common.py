"""Helpers shared by `keras-vision` subcommands (recipe arguments, usage errors)."""

from keras_vision.config import ConfigError
from keras_vision.config import load_recipe


class UsageError(ConfigError):
    """A bad command line; `keras-vision` prints the message and exits with code 2."""


def add_recipe_argument(parser, required=True, flag=None):
    """Adds the recipe (positional, or `flag` such as "--recipe") and repeated `--set`."""
    help_text = "recipe file and argument, e.g. recipes/vit_shapes.py:runlocal,variant=mu/8"
    if flag:
        parser.add_argument(flag, dest="recipe", required=required, metavar="RECIPE[:ARG]", help=help_text)
    else:
        parser.add_argument("recipe", metavar="RECIPE[:ARG]", help=help_text)
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a config key with a Python literal (repeatable); "
             "the key must exist, '+KEY=VALUE' adds a new one (e.g. --set lr=3e-3 --set input.batch_size=16)",
    )


def load_config(args):
    """The recipe config of `args.recipe` with `args.overrides` applied."""
    return load_recipe(args.recipe, args.overrides)
