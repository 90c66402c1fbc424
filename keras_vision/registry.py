"""`Registry`: the one name -> object table behind every "look it up by big_vision's name" in the package.

Models, converters, losses, evaluators, predict functions, trainers, run preparation
steps, pp ops, data sources and presets each have one `Registry` instance, filled by
the explicit imports of the package that owns it (its `__init__.py` lists them), so a
reader sees what is registered without running anything.
"""

import contextlib


class RegistryError(ValueError, KeyError):
    """A name that is not registered, or registered twice (a `ValueError` and a `KeyError`)."""

    __str__ = ValueError.__str__  # KeyError would quote the message


class Registry:
    """Name -> object table of one kind of thing, with errors that list the known names.

    Re-registering the same object (by `same`, default identity) is a no-op; another
    object under a taken name is an error unless `replace=True`, so two families can
    never silently shadow each other.

    Args:
        kind: what a name names, for messages ("model name", "loss", "pp op", ...).
        same: predicate telling whether an already registered object is the new one
            (e.g. equal `__qualname__` for a class re-defined by a module re-import).

    Example:
    >>> LOSSES = Registry("loss")
    >>> @LOSSES.register("softmax_xent")
    ... def softmax_xent(logits, labels): ...
    >>> LOSSES.get("softmax_xent") is softmax_xent
    True
    """

    def __init__(self, kind, same=None):
        self.kind = kind
        self._same = same or (lambda a, b: a is b)
        self._table = {}

    def add(self, names, obj, replace=False):
        """Puts `obj` under each of `names` (a string or a sequence); returns `obj`."""
        names = (names,) if isinstance(names, str) else tuple(names)
        if not names:
            raise RegistryError(f"Registering {obj!r} needs at least one {self.kind}.")
        for key in names:
            if not isinstance(key, str) or not key:
                raise RegistryError(f"A {self.kind} must be a non-empty string, got {key!r}.")
            previous = self._table.get(key)
            if previous is not None and not replace and not self._same(previous, obj):
                raise RegistryError(
                    f"{self.kind.capitalize()} {key!r} is already registered to {previous!r}; "
                    f"refusing to register {obj!r} (pass replace=True to override it)."
                )
        for key in names:
            self._table[key] = obj
        return obj

    def register(self, *names, replace=False):
        """Decorator form of `add`: `@REGISTRY.register("name", "alias")`."""
        return lambda obj: self.add(names, obj, replace=replace)

    def get(self, name):
        """The object registered as `name`; an error names it and lists the known names."""
        if name not in self._table:
            raise RegistryError(f"Unknown {self.kind} {name!r}; expected one of {self.names()}.")
        return self._table[name]

    def remove(self, name):
        """Drops `name` (for tests and temporary user entries); unknown names are ignored."""
        self._table.pop(name, None)

    @contextlib.contextmanager
    def temporary(self, **objects):
        """Registers `name=object` entries for the duration of a `with` block."""
        clash = sorted(k for k in objects if k in self._table)
        if clash:
            raise RegistryError(f"{self.kind.capitalize()}(s) {clash} are already registered.")
        for name, obj in objects.items():
            self.add(name, obj)
        try:
            yield
        finally:
            for name in objects:
                self.remove(name)

    def names(self):
        """Sorted registered names."""
        return sorted(self._table)

    def items(self):
        """(name, object) pairs in registration order."""
        return list(self._table.items())

    def __contains__(self, name):
        return name in self._table

    def __len__(self):
        return len(self._table)

    def __repr__(self):
        return f"Registry({self.kind!r}, {len(self._table)} names)"
