"""big_vision's Adafactor variant (`big_vision.scale_by_adafactor`, ViT-g / ViT-22B recipes)."""

import keras
import numpy as np
from keras import ops

from keras_vision.api_export import keras_vision_export
from keras_vision.optimizers.big_vision_optimizer import BigVisionOptimizer


def factored_dims(shape, min_dim_size_to_factor):
    """(d1, d0): the second-largest and largest axes, or None if not factored (optax rule)."""
    if len(shape) < 2:
        return None
    sorted_dims = np.argsort(shape)
    if shape[sorted_dims[-2]] < min_dim_size_to_factor:
        return None
    return int(sorted_dims[-2]), int(sorted_dims[-1])


@keras_vision_export("keras_vision.optimizers.BigVisionAdafactor")
class BigVisionAdafactor(BigVisionOptimizer):
    """Adafactor as in "Scaling Vision Transformers" (big_vision's variant).

    Direction: factored second-moment RMS scaling (optax
    `scale_by_factored_rms`): for variables whose two largest axes are both
    >= `min_dim_size_to_factor`, row and column means of `g^2 + epsilon` are
    tracked instead of the full second moment; the decay at update `t` is
    `min(beta2_cap, 1 - (t - decay_offset + 1)^-decay_rate)` (so the first
    update uses `g^2` alone). Then optional block-RMS clipping at
    `clipping_threshold`, then a momentum EMA (`m = momentum m + (1 -
    momentum) d`, no debiasing) stored in `momentum_dtype`. There is no
    relative step size and no parameter-scale factor (unlike the paper's
    Adafactor): `learning_rate`, schedule and decoupled weight decay come from
    `BigVisionOptimizer`.

    Args:
        learning_rate: float, big_vision's `lr`.
        min_dim_size_to_factor: int, smallest axis size that is factored.
        decay_rate: float, exponent of the second-moment decay schedule.
        decay_offset: int, step offset of that schedule (for fine-tuning).
        beta2_cap: float, cap of the second-moment decay.
        clipping_threshold: None or float, per-variable RMS clip of the update.
        momentum: None/0 (no momentum) or float EMA decay.
        momentum_dtype: dtype name of the momentum accumulator.
        epsilon: float added to `g^2`.
        **kwargs: `BigVisionOptimizer` arguments.

    Example:
    >>> opt = BigVisionAdafactor(learning_rate=8e-4, total_steps=10_000, weight_decay=0.03,
    ...     schedule=dict(decay_type="rsqrt", timescale=10_000, warmup_steps=1000,
    ...                   cooldown_steps=1000))

    Papers: "Adafactor: Adaptive Learning Rates with Sublinear Memory Cost"
    (Shazeer & Stern, 2018); "Scaling Vision Transformers" (Zhai et al., 2022).
    """

    def __init__(self, learning_rate=1e-3, min_dim_size_to_factor=32, decay_rate=0.8,
                 decay_offset=0, beta2_cap=0.999, clipping_threshold=None, momentum=0.9,
                 momentum_dtype="bfloat16", epsilon=1e-30, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.min_dim_size_to_factor = min_dim_size_to_factor
        self.decay_rate = decay_rate
        self.decay_offset = decay_offset
        self.beta2_cap = beta2_cap
        self.clipping_threshold = clipping_threshold
        self.momentum = momentum
        self.momentum_dtype = (
            None if momentum_dtype is None else keras.backend.standardize_dtype(momentum_dtype)
        )
        self.epsilon = epsilon

    def build_update_rule(self, variables):
        self._v_row, self._v_col, self._v, self._ema = [], [], [], []
        for variable, frozen in zip(variables, self._frozen):
            row = col = full = ema = None
            if not frozen:
                shape = tuple(variable.shape)
                dims = factored_dims(shape, self.min_dim_size_to_factor)
                if dims is None:
                    full = self.add_state(variable, "v")
                else:
                    d1, d0 = dims
                    row = self.add_state(variable, "v_row", shape=np.delete(shape, d0))
                    col = self.add_state(variable, "v_col", shape=np.delete(shape, d1))
                if self.momentum:
                    ema = self.add_state(variable, "momentum", self.momentum_dtype)
            self._v_row.append(row)
            self._v_col.append(col)
            self._v.append(full)
            self._ema.append(ema)

    def update_direction(self, gradient, variable, index):
        dtype = gradient.dtype
        t = ops.cast(self.iterations - self.decay_offset, "float32") + 1.0
        decay = ops.cast(ops.minimum(self.beta2_cap, 1.0 - ops.power(t, -self.decay_rate)), dtype)
        grad_sqr = ops.square(gradient) + self.epsilon
        dims = factored_dims(tuple(gradient.shape), self.min_dim_size_to_factor)
        if dims is None:
            v_var = self._v[index]
            v = decay * v_var + (1.0 - decay) * grad_sqr
            self.assign(v_var, v)
            update = gradient * ops.power(v, -0.5)
        else:
            d1, d0 = dims
            row_var, col_var = self._v_row[index], self._v_col[index]
            v_row = decay * row_var + (1.0 - decay) * ops.mean(grad_sqr, axis=d0)
            v_col = decay * col_var + (1.0 - decay) * ops.mean(grad_sqr, axis=d1)
            self.assign(row_var, v_row)
            self.assign(col_var, v_col)
            reduced_d1 = d1 - 1 if d1 > d0 else d1
            row_col_mean = ops.mean(v_row, axis=reduced_d1, keepdims=True)
            row_factor = ops.power(v_row / row_col_mean, -0.5)
            col_factor = ops.power(v_col, -0.5)
            update = (
                gradient
                * ops.expand_dims(row_factor, axis=d0)
                * ops.expand_dims(col_factor, axis=d1)
            )
        if self.clipping_threshold:
            rms = ops.sqrt(ops.mean(ops.square(update)))
            update = update / ops.maximum(1.0, rms / self.clipping_threshold)
        if self.momentum:
            ema_var = self._ema[index]
            update = (1.0 - self.momentum) * update + self.decayed_state(
                self.momentum, ema_var, dtype
            )
            self.assign(ema_var, ops.cast(update, ema_var.dtype))
        return update

    def get_config(self):
        config = super().get_config()
        config.update({
            "min_dim_size_to_factor": self.min_dim_size_to_factor,
            "decay_rate": self.decay_rate,
            "decay_offset": self.decay_offset,
            "beta2_cap": self.beta2_cap,
            "clipping_threshold": self.clipping_threshold,
            "momentum": self.momentum,
            "momentum_dtype": self.momentum_dtype,
            "epsilon": self.epsilon,
        })
        return config
