"""Helpers shared by the model families."""


def select_intermediates(out, names=None):
    """`out` (name -> tensor) restricted to `names`, all of it for None; unknown names raise."""
    if names is None:
        return out
    unknown = sorted(set(names) - set(out))
    if unknown:
        raise ValueError(f"Unknown intermediate(s) {unknown}; expected some of {sorted(out)}.")
    return {name: out[name] for name in names}
