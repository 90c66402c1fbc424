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

import ast
import copy
import importlib.util
import inspect
import json
import pathlib
import sys


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


class ConfigError(ValueError):
    """A bad recipe name, recipe argument or config key (the CLI exits with code 2)."""


def _convert(value):
    """Turns plain dicts (also inside lists and tuples) into ConfigDicts."""
    if isinstance(value, ConfigDict):
        return value
    if isinstance(value, dict):
        return ConfigDict(value)
    if isinstance(value, list):
        return [_convert(v) for v in value]
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(_convert(v) for v in value)
    return value


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


class ConfigDict(dict):
    """A dict with attribute access; nested dicts become ConfigDicts.

    Reading a missing attribute raises `AttributeError` naming the known keys;
    `config.get("a.b.c", default)` walks dotted paths. JSON round trip:
    `ConfigDict.from_json(c.to_json())` (tuples come back as lists).

    Example:
    >>> c = ConfigDict(model=dict(variant="S/16"))
    >>> c.model.variant
    'S/16'
    >>> c.lr = 1e-3
    """

    def __init__(self, *args, **kwargs):
        super().__init__()
        self.update(*args, **kwargs)

    # --- dict interface, with conversion of nested values -------------------------
    def __setitem__(self, key, value):
        super().__setitem__(key, _convert(value))

    def update(self, *args, **kwargs):
        for k, v in dict(*args, **kwargs).items():
            self[k] = v

    def setdefault(self, key, default=None):
        if key not in self:
            self[key] = default
        return self[key]

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            raise AttributeError(
                f"Config has no key {name!r}; known keys: {sorted(self)}"
            ) from None

    def __setattr__(self, name, value):
        self[name] = value

    def __delattr__(self, name):
        try:
            del self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __deepcopy__(self, memo):
        return ConfigDict({k: copy.deepcopy(v, memo) for k, v in self.items()})

    def __copy__(self):
        return ConfigDict(self)

    def copy(self):
        return ConfigDict(self)

    def get(self, key, default=None):
        """`get("a.b", d)` walks nested dicts; plain keys behave like dict.get."""
        if key in self:
            return super().get(key)
        if isinstance(key, str) and "." in key:
            node = self
            for part in key.split("."):
                if not isinstance(node, dict) or part not in node:
                    return default
                node = node[part]
            return node
        return default

    # --- serialization ------------------------------------------------------------
    def to_dict(self):
        """Plain nested dicts and lists (tuples become lists), JSON-ready."""
        return _plain(self)

    def to_json(self, indent=2):
        return json.dumps(self.to_dict(), indent=indent, sort_keys=True, default=_json_default)

    @classmethod
    def from_json(cls, text):
        return cls(json.loads(text))

    def __repr__(self):
        return f"ConfigDict({dict.__repr__(self)})"


def _json_default(obj):
    # numpy scalars become numbers; functions and other objects are named by their
    # qualified name (never a repr with a memory address, so that the config.json of a
    # resumed run compares equal to the first one).
    if hasattr(obj, "item") and callable(obj.item):
        return obj.item()
    target = obj if hasattr(obj, "__qualname__") else type(obj)
    return f"<{target.__module__}.{target.__qualname__}>"


def autotype(text):
    """'true'/'false' -> bool, then int, float, else the string itself."""
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for fn in (int, float):
        try:
            return fn(text)
        except ValueError:
            pass
    return text


def _strict_bool(text):
    low = text.lower()
    if low not in ("true", "false", ""):
        raise ConfigError(f"Expected a boolean (true/false), got {text!r}.")
    return low == "true"


def _type_fn(default):
    if isinstance(default, bool):
        return _strict_bool
    if default is None:
        return autotype
    return type(default)


def parse_arg(arg, lazy=False, **spec):
    """Parses a recipe's argument string "a=1,flag,b=x" into a ConfigDict.

    Args:
        arg: the string after ':' in `recipes/x.py:arg` (None or "" for defaults).
        lazy: accept keys that are not in `spec` (their type is guessed by `autotype`).
        **spec: name -> default value, or (default, convert_fn). The value string is
            converted with the default's type (bools strictly: true/false).

    A flag without '=' means True; a single bare value that is not a known flag is the
    value of the first spec entry (`recipes/x.py:S/16` == `variant=S/16`).

    Example:
    >>> a = parse_arg("variant=S/16,runlocal", variant="B/16", runlocal=False, res=224)
    >>> (a.variant, a.runlocal, a.res)
    ('S/16', True, 224)
    """
    arg = arg or ""
    spec = {k: (v if isinstance(v, tuple) else (v, _type_fn(v))) for k, v in spec.items()}
    if arg and "," not in arg and "=" not in arg:
        if arg in spec or not spec:
            arg = f"{arg}=True"
        else:
            arg = f"{next(iter(spec))}={arg}"
    raw = {}
    for item in arg.split(","):
        if not item:
            continue
        key, sep, val = item.partition("=")
        raw[key.strip()] = val if sep else "True"
    result = ConfigDict()
    for name, (default, fn) in spec.items():
        if name in raw:
            text = raw.pop(name)
            try:
                result[name] = fn(text)
            except (ValueError, TypeError) as e:
                raise ConfigError(f"Recipe argument {name}={text!r}: {e}") from None
        else:
            result[name] = default
    if raw:
        if not lazy:
            raise ConfigError(
                f"Unknown recipe argument(s) {sorted(raw)}; "
                f"this recipe accepts: {', '.join(spec) or '(none)'}."
            )
        for k, v in raw.items():
            result[k] = autotype(v)
    return result


# --- recipes ------------------------------------------------------------------------


def _repo_recipes_dir():
    # keras_vision/config.py -> <repo>/recipes (only exists in a source checkout).
    return pathlib.Path(__file__).resolve().parents[1] / "recipes"


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


def _parse_value(text):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def apply_overrides(config, overrides):
    """Applies "a.b=1" (existing key) / "+a.b=1" (new key) strings to `config` in place.

    Raises ConfigError naming the known keys at the level where the path breaks.
    """
    for item in overrides or ():
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key.lstrip("+"):
            raise ConfigError(f"Bad override {item!r}; expected KEY=VALUE (or +KEY=VALUE to add a key).")
        create = key.startswith("+")
        parts = key.lstrip("+").split(".")
        node, where = config, "the top level"
        for i, part in enumerate(parts[:-1]):
            if part not in node:
                if not create:
                    raise ConfigError(_unknown_key_msg(item, ".".join(parts[: i + 1]), node, where))
                node[part] = ConfigDict()
            if not isinstance(node[part], dict):
                raise ConfigError(
                    f"Cannot set {key.lstrip('+')!r}: {'.'.join(parts[: i + 1])!r} is "
                    f"{type(node[part]).__name__} {node[part]!r}, not a dict."
                )
            node, where = node[part], repr(".".join(parts[: i + 1]))
        last = parts[-1]
        if last not in node and not create:
            raise ConfigError(_unknown_key_msg(item, key, node, where))
        node[last] = _parse_value(text)
    return config


def _unknown_key_msg(item, key, node, where):
    return (
        f"Unknown config key {key!r} in --set {item}; known keys at {where}: "
        f"{', '.join(sorted(node)) or '(none)'}. To add a new key use --set +{item}."
    )


def get_steps(name, config, *, total_steps=None, steps_per_epoch=None, batch_size=None, default=None):
    """Reads an interval given as `{name}_steps`, `_epochs`, `_examples` or `_percent`.

    big_vision lets every interval (log_training, ckpt, an evaluator's log) be given in
    any of these units; this converts it to steps. Returns `default` if none is set.

    Args:
        name: prefix, e.g. "log_training", "ckpt" or "log".
        config: a dict holding the keys.
        total_steps: needed for `_percent`.
        steps_per_epoch: needed for `_epochs`.
        batch_size: needed for `_examples`.
    """
    given = {u: config.get(f"{name}_{u}") for u in ("steps", "epochs", "examples", "percent")}
    given = {u: v for u, v in given.items() if v is not None}
    if len(given) > 1:
        raise ConfigError(f"Set only one of {[f'{name}_{u}' for u in given]}.")
    if not given:
        return default
    unit, value = next(iter(given.items()))
    need = {"epochs": steps_per_epoch, "examples": batch_size, "percent": total_steps}
    if unit != "steps" and need[unit] is None:
        raise ConfigError(f"{name}_{unit} needs the {'data size' if unit == 'epochs' else unit} to be known.")
    if unit == "steps":
        steps = value
    elif unit == "epochs":
        steps = value * steps_per_epoch
    elif unit == "examples":
        steps = value / batch_size
    else:
        steps = value * total_steps
    return max(1, int(round(steps)))
