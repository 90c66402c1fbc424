"""`get_steps`: an interval given in steps, epochs, examples or percent -> steps (big_vision style)."""

from keras_vision.config.errors import ConfigError


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
