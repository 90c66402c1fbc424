"""`--set` overrides: "a.b=1" changes an existing key, "+a.b=1" adds one (as in Hydra).

VALUE is a Python literal (`ast.literal_eval`: numbers, strings, tuples, lists, dicts,
True/False/None); anything that is not a literal is taken as a plain string
(`--set model.variant=S/16`).
"""

import ast

from keras_vision.config.config_dict import ConfigDict
from keras_vision.config.errors import ConfigError


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
