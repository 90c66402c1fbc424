"""`ConfigDict`: the dict with attribute access that recipes return (JSON round trip)."""

import copy
import json


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
