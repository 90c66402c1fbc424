"""`register_names`: the shared body of the name -> object registries (models, converters, losses, evaluators)."""


def register_names(table, kind, names, obj, same=lambda a, b: a is b):
    """Puts `obj` into `table` under each of `names`; returns `obj` (for decorators).

    Re-registering the same object (by `same`, e.g. equal `__qualname__` for a class
    re-defined when its module is re-imported) is a no-op; another object under a taken
    name is an error, so two families can never silently shadow each other.

    Args:
        table: the registry dict.
        kind: what a name names, for the error ("Model name", "Loss name", ...).
        names: the names (non-empty strings).
        obj: the builder / function / class to register.
        same: predicate telling whether an already registered object is `obj`.

    Raises:
        ValueError: a name that is not a non-empty string, or is taken by another object.
    """
    names = tuple(names)
    if not names:
        raise ValueError(f"Registering {obj!r} needs at least one {kind.lower()}.")
    for key in names:
        if not isinstance(key, str) or not key:
            raise ValueError(f"{kind}s must be non-empty strings, got {key!r}.")
        previous = table.get(key)
        if previous is not None and not same(previous, obj):
            raise ValueError(f"{kind} {key!r} is already registered to {previous!r}; refusing to register {obj!r}.")
    for key in names:
        table[key] = obj
    return obj
