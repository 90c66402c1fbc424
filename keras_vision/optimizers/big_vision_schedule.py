"""big_vision's learning-rate schedules (`utils.create_learning_rate_schedule`) in keras.ops."""

import math

import keras
from keras import ops

from keras_vision.api_export import keras_vision_export

DECAY_TYPES = ("cosine", "linear", "polynomial", "rsqrt", "stair", "constant")
_DURATION_SUFFIXES = ("steps", "examples", "epochs", "percent")
_DECAY_KWARGS = {
    "linear": ("power", "end", "linear_end"),
    "polynomial": ("power", "end", "linear_end"),
    "cosine": (),
    "rsqrt": tuple(
        f"{name}{suffix}"
        for name in ("timescale", "shift")
        for suffix in ("",) + tuple(f"_{s}" for s in _DURATION_SUFFIXES)
    ),
    "stair": ("steps", "mults"),
    "constant": (),
}


def _check_decay_type(decay_type):
    if decay_type not in DECAY_TYPES:
        raise ValueError(
            f"Unknown decay_type {decay_type!r}; expected one of {list(DECAY_TYPES)}."
        )


@keras_vision_export("keras_vision.optimizers.duration_to_steps")
def duration_to_steps(prefix, config, data_size=None, batch_size=None, total_steps=None,
                      default=ValueError):
    """Reads `{prefix}_{steps,examples,epochs,percent}` from `config` as a step count.

    Same rules as big_vision's `utils.steps`: negative values count as unset, at
    most one suffix may be set, fractional results round to the nearest step but
    never below 1 (unless the value is 0).

    Args:
        prefix: e.g. "warmup", "cooldown", "total".
        config: dict holding the durations.
        data_size: examples per epoch (for `_epochs`).
        batch_size: examples per step (for `_examples` and `_epochs`).
        total_steps: total steps (for `_percent`).
        default: returned when nothing is set; `ValueError` (default) raises.

    Example:
    >>> duration_to_steps("warmup", {"warmup_percent": 0.1}, total_steps=300)
    30
    """
    matches = [
        f"{prefix}_{s}" for s in _DURATION_SUFFIXES
        if (x := config.get(f"{prefix}_{s}")) is not None and x >= 0
    ]
    if len(matches) > 1:
        raise ValueError(f"Only one of {matches} should be set.")

    def to_integer(x):
        return max(1, round(x)) if x else 0

    if f"{prefix}_steps" in matches:
        return config[f"{prefix}_steps"]
    if batch_size and f"{prefix}_examples" in matches:
        return to_integer(config[f"{prefix}_examples"] / batch_size)
    if batch_size and data_size and f"{prefix}_epochs" in matches:
        return to_integer(config[f"{prefix}_epochs"] * data_size / batch_size)
    if total_steps and f"{prefix}_percent" in matches:
        pct = config[f"{prefix}_percent"]
        if not 0.0 <= pct <= 1.0:
            raise ValueError(f"{prefix}_percent must lie in [0, 1], got {pct}.")
        return to_integer(pct * total_steps)
    if default is ValueError:
        raise ValueError(
            f"Cannot convert {prefix!r} to steps from {matches or 'nothing'}: batch_size="
            f"{batch_size}, data_size={data_size}, total_steps={total_steps}."
        )
    return default


@keras_vision_export("keras_vision.optimizers.BigVisionSchedule")
class BigVisionSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Warmup, decay and cooldown multiplier of big_vision, as a Keras schedule.

    `value(step) = base * decay(progress) * min(1, step / warmup) *
    min(1, (total - step) / cooldown)` with `progress = clip((step - warmup) /
    (total - warmup), 0, 1)`. Decays: cosine `0.5 (1 + cos(pi p))`;
    linear/polynomial `end + (base - end) (1 - p)^power`; rsqrt
    `1 / sqrt(1 + (step + shift - warmup) / timescale)` (`1 / sqrt(1 + shift /
    timescale)` during warmup); stair `base * ([1] + mults)[#{s in steps: s <=
    step}]`; constant. Step 0 gives 0 with warmup: big_vision counts updates from 0.

    Args:
        total_steps: int, total number of updates.
        base: float, the value after warmup (big_vision's `mult` of a schedule
            entry; the optimizer multiplies it by its learning rate).
        decay_type: one of DECAY_TYPES (big_vision's default is "stair", which
            without `steps` is constant).
        warmup_steps: int, linear warmup length.
        cooldown_steps: int, linear cooldown length at the end.
        power, end: polynomial/linear decay (big_vision also reads `linear_end`).
        timescale, shift: rsqrt decay (big_vision default timescale 10_000).
        steps, mults: stair boundaries and the multipliers that start at them.

    Example:
    >>> sched = BigVisionSchedule(1000, base=1e-3, decay_type="cosine", warmup_steps=100)
    >>> opt = keras.optimizers.SGD(learning_rate=sched)

    See `create_learning_rate_schedule` for big_vision's `*_epochs`,
    `*_examples` and `*_percent` durations and `scale_with_batchsize`.
    """

    def __init__(self, total_steps, base=1.0, decay_type="stair", warmup_steps=0,
                 cooldown_steps=0, power=1.0, end=0.0, timescale=10_000, shift=0,
                 steps=(), mults=()):
        _check_decay_type(decay_type)
        if total_steps > 1 and warmup_steps >= total_steps:
            raise ValueError(f"warmup_steps={warmup_steps} must be < total_steps={total_steps}.")
        if len(steps) != len(mults):
            raise ValueError(
                f"Stair `steps` {list(steps)} and `mults` {list(mults)} differ in length."
            )
        if list(steps) != sorted(steps):
            raise ValueError(f"Stair `steps` must be sorted, got {list(steps)}.")
        self.total_steps = total_steps
        self.base = float(base)
        self.decay_type = decay_type
        self.warmup_steps = warmup_steps
        self.cooldown_steps = cooldown_steps
        self.power = power
        self.end = float(end)
        self.timescale = timescale
        self.shift = shift
        self.steps = [int(s) for s in steps]
        self.mults = [float(m) for m in mults]

    def __call__(self, step):
        step = ops.cast(step, "float32")
        warmup = float(self.warmup_steps)
        lr = ops.convert_to_tensor(self.base, "float32")
        # big_vision divides by 0 when warmup == total (allowed for <= 1 step runs).
        progress = ops.clip((step - warmup) / float(max(self.total_steps - warmup, 1e-9)), 0.0, 1.0)
        if self.decay_type in ("linear", "polynomial"):
            lr = self.end + (lr - self.end) * (1.0 - progress) ** self.power
        elif self.decay_type == "cosine":
            lr = lr * 0.5 * (1.0 + ops.cos(math.pi * progress))
        elif self.decay_type == "rsqrt":
            t, shift = float(self.timescale), float(self.shift)
            lr = ops.where(
                warmup <= step,
                lr / ops.sqrt(1.0 + (step + shift - warmup) / t),
                lr / math.sqrt(1.0 + shift / t),
            )
        elif self.decay_type == "stair" and self.steps:
            # Index of the stair: number of boundaries s with s < step + 1.
            boundaries = ops.convert_to_tensor(self.steps, "float32")
            below = ops.less(boundaries, ops.expand_dims(step, -1) + 1.0)
            i = ops.sum(ops.cast(below, "int32"), axis=-1)
            lr = lr * ops.take(ops.convert_to_tensor([1.0] + self.mults, "float32"), i)
        if self.warmup_steps:
            lr = lr * ops.minimum(1.0, step / warmup)
        if self.cooldown_steps:
            lr = lr * ops.minimum(1.0, (self.total_steps - step) / float(self.cooldown_steps))
        return ops.cast(lr, "float32")

    def get_config(self):
        return {
            "total_steps": self.total_steps,
            "base": self.base,
            "decay_type": self.decay_type,
            "warmup_steps": self.warmup_steps,
            "cooldown_steps": self.cooldown_steps,
            "power": self.power,
            "end": self.end,
            "timescale": self.timescale,
            "shift": self.shift,
            "steps": list(self.steps),
            "mults": list(self.mults),
        }


@keras_vision_export("keras_vision.optimizers.create_learning_rate_schedule")
def create_learning_rate_schedule(total_steps, batch_size=None, data_size=None, base=1.0,
                                  decay_type="stair", scale_with_batchsize=False, **kw):
    """big_vision's `create_learning_rate_schedule`, returning a `BigVisionSchedule`.

    Args:
        total_steps: int, total number of updates.
        batch_size: global batch size (for `*_examples`/`*_epochs` durations and
            `scale_with_batchsize`).
        data_size: training examples per epoch (for `*_epochs`).
        base: value after warmup.
        decay_type: "cosine", "linear", "polynomial", "rsqrt", "stair" (default,
            constant without `steps`) or "constant".
        scale_with_batchsize: multiply `base` by `batch_size / 256`.
        **kw: `warmup_{steps,epochs,examples,percent}`,
            `cooldown_{steps,epochs,examples,percent}` and the decay's own keys:
            `power`, `end` (or `linear_end`), `timescale`, `shift` (both also as
            durations, e.g. `timescale_epochs`), `steps`, `mults`. Any other key
            is an error.

    Returns:
        A `BigVisionSchedule`: call it with a step (tensor or int) to get the
        float32 value; also usable as a Keras optimizer's `learning_rate`.

    Example:
    >>> sched = create_learning_rate_schedule(100, base=1e-3, decay_type="cosine", warmup_steps=10)
    >>> float(sched(5))
    0.0005
    """
    _check_decay_type(decay_type)
    durations = tuple(f"{p}_{s}" for p in ("warmup", "cooldown") for s in _DURATION_SUFFIXES)
    known = durations + _DECAY_KWARGS[decay_type]
    unknown = sorted(set(kw) - set(known))
    if unknown:
        raise ValueError(
            f"Unknown schedule argument(s) {unknown} for decay_type={decay_type!r}; "
            f"expected some of {sorted(known)}."
        )

    def to_steps(name, default=0):
        return duration_to_steps(name, kw, data_size, batch_size, total_steps, default=default)

    if scale_with_batchsize:
        base = base * batch_size / 256.0
    extra = {}
    if decay_type in ("linear", "polynomial"):
        extra = {"power": kw.get("power", 1), "end": kw.get("end", kw.get("linear_end", 0.0))}
    elif decay_type == "rsqrt":
        extra = {
            "timescale": to_steps("timescale", default=kw.get("timescale", 10_000)),
            "shift": to_steps("shift", default=kw.get("shift", 0)),
        }
    elif decay_type == "stair":
        extra = {"steps": kw.get("steps", ()), "mults": kw.get("mults", ())}
    return BigVisionSchedule(
        total_steps,
        base=base,
        decay_type=decay_type,
        warmup_steps=to_steps("warmup"),
        cooldown_steps=to_steps("cooldown"),
        **extra,
    )
