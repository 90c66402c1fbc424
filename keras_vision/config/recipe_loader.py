"""Recipe files: `load_recipe("recipes/x.py:arg", overrides)`, `split_recipe_arg`, `find_recipes`."""

import importlib.util
import inspect
import pathlib
import sys

from keras_vision.config.config_dict import ConfigDict
from keras_vision.config.errors import ConfigError
from keras_vision.config.overrides import apply_overrides


def _repo_recipes_dir():
    # keras_vision/config/recipe_loader.py -> <repo>/recipes (only exists in a source checkout).
    return pathlib.Path(__file__).resolve().parents[2] / "recipes"


def find_recipes(directory=None):
    """The recipe files (`*.py` without a leading '_') in `directory` (default: recipes/)."""
    dirs = [pathlib.Path(directory)] if directory else [pathlib.Path("recipes"), _repo_recipes_dir()]
    for d in dirs:
        if d.is_dir():
            return sorted(str(p) for p in d.glob("*.py") if not p.name.startswith("_"))
    return []


def split_recipe_arg(spec):
    """'recipes/x.py:a=1,b' -> ('recipes/x.py', 'a=1,b'); no ':' -> (spec, None)."""
    path, sep, arg = spec.partition(".py:")
    if sep:
        return path + ".py", arg
    return spec, None


def _resolve_recipe_path(path):
    p = pathlib.Path(path)
    candidates = [p]
    if not p.suffix:
        candidates.append(p.with_suffix(".py"))
    # Bare names ("vit_shapes") and "recipes/x.py" also resolve inside the source
    # checkout's recipes/ folder, so the CLI works from any directory.
    candidates.append(_repo_recipes_dir() / p.name)
    candidates.append(_repo_recipes_dir() / (p.name if p.suffix else p.name + ".py"))
    for c in candidates:
        if c.is_file():
            return c
    known = find_recipes(p.parent if p.parent != pathlib.Path(".") and p.parent.is_dir() else None)
    raise ConfigError(
        f"Unknown recipe {path!r} (no such file). Known recipes: "
        + (", ".join(known) if known else "(none found in recipes/)")
    )


def load_recipe(spec, overrides=()):
    """Loads `recipes/x.py:arg` (calls its `get_config(arg)`) and applies `--set` overrides.

    Args:
        spec: "path/to/recipe.py", "path/to/recipe.py:arg" or a bare recipe name.
        overrides: iterable of "KEY=VALUE" / "+KEY=VALUE" strings (see module doc).

    Returns:
        The recipe's ConfigDict with overrides applied.
    """
    path, arg = split_recipe_arg(spec)
    file = _resolve_recipe_path(path)
    name = f"_kv_recipe_{file.stem}"
    module_spec = importlib.util.spec_from_file_location(name, file)
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module  # dataclasses/pickling inside recipes need this
    module_spec.loader.exec_module(module)
    if not hasattr(module, "get_config"):
        raise ConfigError(f"Recipe {str(file)!r} has no get_config(arg) function.")
    config = module.get_config(arg) if arg is not None else _call_default(module.get_config)
    config = ConfigDict(config)
    return apply_overrides(config, overrides)


def _call_default(get_config):
    if inspect.signature(get_config).parameters:
        return get_config(None)
    return get_config()
