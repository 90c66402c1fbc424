"""big_vision's optimizer chain (`big_vision/optax.py::make`) as a Keras optimizer."""

import re

import keras
from keras import ops

from keras_vision import compat
from keras_vision.api_export import keras_vision_export
from keras_vision.optimizers.big_vision_schedule import create_learning_rate_schedule

DEFAULT_WEIGHT_DECAY_MULTS = ((".*/kernel$", 1.0),)


def _compile(pattern, what):
    if not isinstance(pattern, str):
        raise ValueError(f"{what}: patterns must be regex strings, got {pattern!r}.")
    try:
        return re.compile(pattern)
    except re.error as e:
        raise ValueError(f"{what}: invalid regex {pattern!r} ({e}).") from None


def _pairs(value, what):
    """Normalises [(regex, value), ...] (tuples or JSON lists) to a list of tuples."""
    try:
        pairs = [(p, v) for p, v in value]
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a list of (regex, value) pairs, got {value!r}.") from None
    for pattern, _ in pairs:
        _compile(pattern, what)
    return pairs


def first_match(patterns, path):
    """Index of the first pattern `re.search`-ing `path`, or None (big_vision: first match wins)."""
    for i, pattern in enumerate(patterns):
        if re.search(pattern, path):
            return i
    return None


def _is_serialized_object(entry):
    return isinstance(entry, dict) and "class_name" in entry and "config" in entry


@keras_vision_export("keras_vision.optimizers.BigVisionOptimizer")
class BigVisionOptimizer(keras.optimizers.Optimizer):
    """big_vision's gradient-transformation chain; plain SGD as the update rule.

    Per update, with `g` the gradients and `t` the update index (0 first):
    `g <- clip_by_global_norm(g)` over non-frozen variables, `d = rule(g)`
    (identity here; Adam, momentum, Adafactor in the subclasses),
    `u = sched_i(t) * (lr * lr_mult * d + weight_decay * wd_mult * theta)`,
    `theta <- theta - u`. So the weight decay is decoupled, multiplied by the
    schedule (incl. warmup) but NOT by the learning rate, and by default only
    hits variables whose path ends in "/kernel". Variables whose schedule is
    None are frozen: never updated (bit-identical), no optimizer state, and
    their gradients are left out of the clipping norm.

    Regexes are matched with `re.search` against `variable.path` (e.g.
    "vit_backbone/encoderblock_0/mlp/dense_0/kernel"), first match wins in each
    list, as in big_vision (which `fullmatch`es its own parameter names).

    Args:
        learning_rate: float, big_vision's `lr` (a constant; the shape over
            time comes from `schedule`).
        total_steps: int, number of updates (needed by dict schedules).
        schedule: a schedule dict of `create_learning_rate_schedule` keys (plus
            `mult`, the schedule's peak, default 1), a `LearningRateSchedule`,
            or a list of `(regex, dict | schedule | None)`; None freezes the
            matching variables and every variable must be matched. Default
            (None): constant 1.
        weight_decay: float, big_vision's `wd`; decoupled, times the schedule,
            not times `learning_rate`. None or 0 disables it.
        weight_decay_mults: list of `(regex, mult)`; default
            `[(".*/kernel$", 1.0)]`. Unmatched variables get no weight decay.
        learning_rate_mults: list of `(regex, mult > 0)`; unmatched get 1.
        global_clipnorm: float, big_vision's `grad_clip_norm`, over non-frozen
            gradients only.
        **kwargs: other `keras.optimizers.Optimizer` arguments (`name`,
            `use_ema`, `gradient_accumulation_steps`, `loss_scale_factor`...).
            `clipnorm` and `clipvalue` are not supported.

    Example:
    >>> opt = BigVisionOptimizer(learning_rate=0.01, total_steps=1000,
    ...     schedule=[("head/.*", dict(decay_type="cosine")), (".*", None)])

    Reference: big_vision `optax.py` (Beyer, Zhai, Kolesnikov, 2022).
    """

    def __init__(
        self,
        learning_rate=1e-3,
        total_steps=None,
        schedule=None,
        weight_decay=None,
        weight_decay_mults=None,
        learning_rate_mults=None,
        global_clipnorm=None,
        **kwargs,
    ):
        for arg in ("clipnorm", "clipvalue"):
            if kwargs.pop(arg, None) is not None:
                raise ValueError(
                    f"{type(self).__name__} does not support `{arg}`; use `global_clipnorm` "
                    "(big_vision's grad_clip_norm)."
                )
        if isinstance(learning_rate, int):
            learning_rate = float(learning_rate)
        # Keras' own weight decay (x lr) and clipping (incl. frozen vars) stay off;
        # this class does both the big_vision way.
        super().__init__(
            learning_rate=learning_rate, weight_decay=None, global_clipnorm=None, **kwargs
        )
        self.weight_decay = weight_decay
        self.global_clipnorm = global_clipnorm
        self.total_steps = total_steps

        if schedule is None:
            schedule = {}
        if isinstance(schedule, (dict, keras.optimizers.schedules.LearningRateSchedule)):
            schedule = [(".*", schedule)]
        self.schedule = _pairs(schedule, "schedule")
        self.weight_decay_mults = _pairs(
            DEFAULT_WEIGHT_DECAY_MULTS if weight_decay_mults is None else weight_decay_mults,
            "weight_decay_mults",
        )
        self.learning_rate_mults = _pairs(learning_rate_mults or (), "learning_rate_mults")
        bad = [(p, m) for p, m in self.learning_rate_mults if not m > 0]
        if bad:
            raise ValueError(
                f"learning_rate_mults must be > 0, got {bad}; freeze with a None schedule instead."
            )
        if all(entry is None for _, entry in self.schedule):
            raise ValueError(f"schedule {self.schedule} freezes everything; nothing would train.")
        self._schedule_fns = [self._make_schedule(entry) for _, entry in self.schedule]

    def _make_schedule(self, entry):
        if entry is None:
            return None
        if _is_serialized_object(entry):
            entry = keras.saving.deserialize_keras_object(entry)
        if callable(entry):
            return entry
        if not isinstance(entry, dict):
            raise ValueError(
                f"A schedule entry must be a dict, a LearningRateSchedule or None, got {entry!r}."
            )
        entry = dict(entry)
        if "base" in entry:
            raise ValueError(
                f"Schedule {entry} sets `base`; use `mult` (the learning rate is separate)."
            )
        mult = entry.pop("mult", 1.0)
        if entry and self.total_steps is None:
            raise ValueError(f"Schedule {entry} needs `total_steps`, which is None.")
        return create_learning_rate_schedule(self.total_steps or 0, base=mult, **entry)

    # === Variables ===

    def build(self, variables):
        super().build(variables)
        patterns = [p for p, _ in self.schedule]
        infos, uncovered = [], []
        for variable in variables:
            path = variable.path
            sched = first_match(patterns, path)
            if sched is None:
                uncovered.append(path)
                continue
            lr_i = first_match([p for p, _ in self.learning_rate_mults], path)
            wd_i = first_match([p for p, _ in self.weight_decay_mults], path)
            wd = 0.0
            if self.weight_decay and wd_i is not None:
                wd = float(self.weight_decay) * float(self.weight_decay_mults[wd_i][1])
            infos.append({
                "path": path,
                "frozen": self._schedule_fns[sched] is None,
                "schedule": sched,
                "lr_mult": 1.0 if lr_i is None else float(self.learning_rate_mults[lr_i][1]),
                "wd": wd,
            })
        if uncovered:
            raise ValueError(
                f"Every variable must be matched by a schedule pattern {patterns} (use None "
                f"to freeze); unmatched: {uncovered}."
            )
        self._infos = infos
        self._frozen = [info["frozen"] or compat.overwrites_with_gradient(self, v)
                        for info, v in zip(infos, variables)]
        self.build_update_rule(variables)

    def build_update_rule(self, variables):
        """Creates the update rule's state; `self._frozen[i]` variables need none."""

    def add_state(self, variable, name, dtype=None, shape=None):
        """Adds an optimizer variable for `variable` (optionally another dtype/shape)."""
        if shape is None:
            layout = compat.variable_layout(variable)
            shape = variable.shape
        else:
            layout = None
        return self.add_variable(
            shape=tuple(shape),
            dtype=dtype or variable.dtype,
            name=f"{variable.path.replace('/', '_')}_{name}",
            layout=layout,
        )

    def decayed_state(self, decay, state, dtype):
        """`decay * state` in `dtype` (float32), as big_vision's jitted optax computes it.

        optax writes `decay * state` with a Python-float decay, which jax casts to the
        state's dtype: with a bfloat16 accumulator the decay is bfloat16-rounded (0.9 ->
        0.8984375). XLA then keeps the product in float32 ("excess precision", CPU) instead
        of rounding it to bfloat16 as eager jax would. Computing it in float32 from the
        bfloat16-rounded decay gives that result on every backend, jitted or not (the
        product of two bfloat16 values is exact in float32).
        """
        decay = ops.cast(ops.cast(decay, state.dtype), dtype)
        return decay * ops.cast(state, dtype)

    def describe_variables(self):
        """Per variable: path, frozen, schedule index, lr_mult, wd (after build)."""
        return [dict(info, frozen=f) for info, f in zip(self._infos, self._frozen)]

    # === Update ===
    # _clip_gradients, _apply_weight_decay and _backend_update_step override private Keras
    # hooks; keras_vision.compat checks at import that they still exist with these signatures.

    def _clip_gradients(self, grads):
        # Clipping happens in _backend_update_step, where frozen variables are known.
        return grads

    def _apply_weight_decay(self, variables):
        # Decoupled weight decay is part of update_step (x schedule, not x lr).
        return

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        indices = [compat.optimizer_variable_index(self, v) for v in trainable_variables]
        grads = list(grads)
        if self.global_clipnorm:
            live = [g for g, i in zip(grads, indices) if not self._frozen[i]]
            if live:
                norm = ops.sqrt(sum(ops.sum(ops.square(ops.cast(g, "float32"))) for g in live))
                keep = ops.less(norm, self.global_clipnorm)
                grads = [
                    g if self._frozen[i]
                    else ops.where(keep, g, g / ops.cast(norm, g.dtype) * self.global_clipnorm)
                    for g, i in zip(grads, indices)
                ]
        step = self.iterations
        # Evaluated once per update, read by update_step (bypasses variable tracking).
        object.__setattr__(
            self, "_step_schedule", [None if fn is None else fn(step) for fn in self._schedule_fns]
        )
        super()._backend_update_step(grads, trainable_variables, learning_rate)
        object.__setattr__(self, "_step_schedule", None)

    def update_step(self, gradient, variable, learning_rate):
        i = compat.optimizer_variable_index(self, variable)
        if self._frozen[i]:
            return
        info = self._infos[i]
        dtype = variable.dtype
        direction = self.update_direction(ops.cast(gradient, dtype), variable, i)
        update = direction * ops.cast(learning_rate, dtype)
        if info["lr_mult"] != 1.0:
            update = update * info["lr_mult"]
        if info["wd"]:
            update = update + info["wd"] * variable
        update = update * ops.cast(self._step_schedule[info["schedule"]], dtype)
        self.assign_sub(variable, update)

    def update_direction(self, gradient, variable, index):
        """The update rule (before learning rate): identity, i.e. plain SGD."""
        return gradient

    def schedule_values(self, step=None):
        """{regex: schedule value} at `step` (default: the next update) for non-frozen entries."""
        step = self.iterations if step is None else step
        return {
            pattern: fn(step)
            for (pattern, _), fn in zip(self.schedule, self._schedule_fns)
            if fn is not None
        }

    # === Config ===

    def get_config(self):
        config = super().get_config()
        schedule = []
        for pattern, entry in self.schedule:
            if isinstance(entry, keras.optimizers.schedules.LearningRateSchedule):
                entry = keras.saving.serialize_keras_object(entry)
            schedule.append([pattern, entry])
        config.update({
            "total_steps": self.total_steps,
            "schedule": schedule,
            "weight_decay": self.weight_decay,
            "weight_decay_mults": [list(p) for p in self.weight_decay_mults],
            "learning_rate_mults": [list(p) for p in self.learning_rate_mults],
            "global_clipnorm": self.global_clipnorm,
        })
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["schedule"] = [
            (p, keras.saving.deserialize_keras_object(e, custom_objects=custom_objects)
             if _is_serialized_object(e) else e)
            for p, e in config.get("schedule") or [(".*", {})]
        ]
        return super().from_config(config, custom_objects=custom_objects)
