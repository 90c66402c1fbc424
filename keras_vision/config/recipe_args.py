"""`parse_arg`: a recipe's argument string "a=1,flag,b=x" -> ConfigDict (big_vision style)."""

from keras_vision.config.config_dict import ConfigDict
from keras_vision.config.errors import ConfigError


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
