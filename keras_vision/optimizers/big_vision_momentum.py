"""big_vision's fine-tuning optimizer: SGD momentum with a half-precision trace."""

import keras
from keras import ops

from keras_vision.api_export import keras_vision_export
from keras_vision.optimizers.big_vision_optimizer import BigVisionOptimizer


@keras_vision_export("keras_vision.optimizers.BigVisionMomentum")
class BigVisionMomentum(BigVisionOptimizer):
    """SGD with momentum as big_vision runs it (`optax_name="big_vision.momentum_hp"`).

    The direction is optax's `trace`: `m = g + momentum * m` (no dampening),
    `d = m` (or `g + momentum * m` with Nesterov). The trace is stored in
    `accumulator_dtype` (bfloat16 by default: "hp" = half precision); the update
    uses the float32 value of this step. `momentum=None` (or 0) is plain SGD
    (`big_vision.sgd`). Learning rate, schedule, decoupled weight decay,
    clipping and freezing: see `BigVisionOptimizer`.

    Args:
        learning_rate: float, big_vision's `lr`.
        momentum: float trace decay, or None for no momentum.
        accumulator_dtype: dtype name of the trace, None for the variable's.
        nesterov: bool.
        **kwargs: `BigVisionOptimizer` arguments.

    Example:
    >>> opt = BigVisionMomentum(learning_rate=0.01, total_steps=500, global_clipnorm=1.0,
    ...     schedule=dict(warmup_steps=100, decay_type="cosine"))

    Recipe: big_vision `configs/transfer.py` ("How to train your ViT?",
    Steiner et al., 2021).
    """

    def __init__(self, learning_rate=1e-2, momentum=0.9, accumulator_dtype="bfloat16",
                 nesterov=False, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.momentum = momentum
        if accumulator_dtype is not None:
            accumulator_dtype = keras.backend.standardize_dtype(accumulator_dtype)
        self.accumulator_dtype = accumulator_dtype
        self.nesterov = nesterov

    def build_update_rule(self, variables):
        self._traces = [
            None if frozen or not self.momentum
            else self.add_state(variable, "trace", self.accumulator_dtype)
            for variable, frozen in zip(variables, self._frozen)
        ]

    def update_direction(self, gradient, variable, index):
        if not self.momentum:
            return gradient
        trace_var = self._traces[index]
        trace = gradient + self.decayed_state(self.momentum, trace_var, gradient.dtype)
        direction = gradient + self.momentum * trace if self.nesterov else trace
        self.assign(trace_var, ops.cast(trace, trace_var.dtype))
        return direction

    def get_config(self):
        config = super().get_config()
        config.update({
            "momentum": self.momentum,
            "accumulator_dtype": self.accumulator_dtype,
            "nesterov": self.nesterov,
        })
        return config
