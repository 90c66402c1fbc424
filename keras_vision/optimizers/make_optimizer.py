"""Builds a big_vision-semantics Keras optimizer from big_vision recipe keys."""

import keras

from keras_vision.api_export import keras_vision_export
from keras_vision.optimizers.big_vision_adafactor import BigVisionAdafactor
from keras_vision.optimizers.big_vision_adam import BigVisionAdam
from keras_vision.optimizers.big_vision_momentum import BigVisionMomentum
from keras_vision.optimizers.big_vision_optimizer import BigVisionOptimizer
from keras_vision.optimizers.big_vision_schedule import create_learning_rate_schedule

# optax_name -> (class, {big_vision optax kwarg: Keras constructor argument}).
OPTAX_NAMES = {
    "scale_by_adam": (BigVisionAdam, {
        "b1": "beta_1", "b2": "beta_2", "eps": "epsilon", "eps_root": "epsilon_root",
        "mu_dtype": "mu_dtype", "nesterov": "nesterov",
    }),
    "big_vision.momentum_hp": (BigVisionMomentum, {
        "momentum": "momentum", "dtype": "accumulator_dtype", "nesterov": "nesterov",
    }),
    "big_vision.scale_by_adafactor": (BigVisionAdafactor, {
        "min_dim_size_to_factor": "min_dim_size_to_factor", "decay_rate": "decay_rate",
        "decay_offset": "decay_offset", "beta2_cap": "beta2_cap",
        "clipping_threshold": "clipping_threshold", "momentum": "momentum",
        "dtype_momentum": "momentum_dtype", "eps": "epsilon",
    }),
    "big_vision.sgd": (BigVisionOptimizer, {}),
    "identity": (BigVisionOptimizer, {}),
    "scale": (BigVisionOptimizer, {"step_size": None}),  # folded into lr (linear).
}
CONFIG_KEYS = ("optax_name", "optax", "lr", "wd", "wd_mults", "lr_mults", "schedule",
               "grad_clip_norm")
# Config keys that look like optimizer settings; any of these not in CONFIG_KEYS is an error.
_OPTIMIZER_PREFIXES = ("optax", "optim", "lr", "wd", "weight_decay", "schedule", "grad_clip")


def _dtype_name(value):
    if value is None or isinstance(value, str):
        return value
    return keras.backend.standardize_dtype(getattr(value, "dtype", value))


@keras_vision_export("keras_vision.optimizers.make_optimizer")
def make_optimizer(config, total_steps, batch_size=None, data_size=None, **kwargs):
    """Keras optimizer with the semantics of big_vision's `optax.make(config, ...)`.

    Reads `optax_name`, `optax` (kwargs of the optax transform, big_vision
    names), `lr`, `wd`, `wd_mults`, `lr_mults`, `schedule` (dict or list of
    `(regex, dict | None)`; None freezes) and `grad_clip_norm` from a recipe
    config; other recipe keys are ignored, but unknown optimizer-looking keys
    (e.g. a misspelt `lr_mult`) and unknown `optax` kwargs are errors.

    Args:
        config: dict-like recipe config (big_vision keys).
        total_steps: int, number of updates (for the schedules).
        batch_size: global batch size (for `*_epochs`/`*_examples` durations).
        data_size: training examples per epoch (for `*_epochs`).
        **kwargs: extra `keras.optimizers.Optimizer` arguments (e.g.
            `gradient_accumulation_steps`, `name`).

    Returns:
        A `BigVisionOptimizer` (`BigVisionAdam`, `BigVisionMomentum`,
        `BigVisionAdafactor` for the corresponding `optax_name`).

    Example:
    >>> opt = make_optimizer(dict(optax_name="scale_by_adam", optax=dict(mu_dtype="bfloat16"),
    ...     lr=1e-3, wd=1e-4, grad_clip_norm=1.0,
    ...     schedule=dict(warmup_steps=10_000, decay_type="cosine")), total_steps=90_000)
    """
    unknown = sorted(
        k for k in config if k.startswith(_OPTIMIZER_PREFIXES) and k not in CONFIG_KEYS
    )
    if unknown:
        raise ValueError(
            f"Unknown optimizer config key(s) {unknown}; known keys: {list(CONFIG_KEYS)}."
        )
    if "lr" not in config:
        raise ValueError("The config has no `lr` (the base learning rate).")
    optax_name = config.get("optax_name", "scale_by_adam")
    if optax_name not in OPTAX_NAMES:
        raise ValueError(f"Unknown optax_name {optax_name!r}; expected one of {list(OPTAX_NAMES)}.")
    cls, arg_names = OPTAX_NAMES[optax_name]
    optax_kw = dict(config.get("optax") or {})
    bad = sorted(set(optax_kw) - set(arg_names))
    if bad:
        raise ValueError(
            f"Unknown `optax` argument(s) {bad} for optax_name={optax_name!r}; expected some of "
            f"{sorted(arg_names)}."
        )
    lr = float(config["lr"])
    rule_kw = {}
    for key, value in optax_kw.items():
        if key == "step_size":
            lr *= float(value)
        elif key in ("mu_dtype", "dtype", "dtype_momentum"):
            rule_kw[arg_names[key]] = _dtype_name(value)
        else:
            rule_kw[arg_names[key]] = value

    schedule = config.get("schedule", {})
    if schedule is None:
        raise ValueError("config.schedule=None would freeze every parameter; use {} for constant.")
    if isinstance(schedule, dict):
        schedule = [(".*", schedule)]

    def to_schedule(entry):
        if entry is None:
            return None
        entry = dict(entry)
        if "base" in entry:
            raise ValueError(f"Schedule {entry} sets `base`; use `mult`.")
        mult = entry.pop("mult", 1.0)
        return create_learning_rate_schedule(
            total_steps, batch_size=batch_size, data_size=data_size, base=mult, **entry
        )

    if not isinstance(schedule, (list, tuple)) or not all(
        isinstance(e, (list, tuple)) and len(e) == 2 for e in schedule
    ):
        raise ValueError(
            f"config.schedule must be a dict or a list of (regex, dict | None), got {schedule!r}."
        )
    schedule = [(pattern, to_schedule(entry)) for pattern, entry in schedule]

    return cls(
        learning_rate=lr,
        total_steps=total_steps,
        schedule=schedule,
        weight_decay=config.get("wd") or None,
        weight_decay_mults=config.get("wd_mults"),
        learning_rate_mults=config.get("lr_mults"),
        global_clipnorm=config.get("grad_clip_norm") or None,
        **rule_kw,
        **kwargs,
    )
