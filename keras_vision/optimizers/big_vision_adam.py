"""big_vision's default optimizer: optax `scale_by_adam` inside the big_vision chain."""

import keras
from keras import ops

from keras_vision.api_export import keras_vision_export
from keras_vision.optimizers.big_vision_optimizer import BigVisionOptimizer


@keras_vision_export("keras_vision.optimizers.BigVisionAdam")
class BigVisionAdam(BigVisionOptimizer):
    """Adam as big_vision runs it (`optax_name="scale_by_adam"`).

    The direction is optax's `scale_by_adam`: `m = b1 m + (1 - b1) g`,
    `v = b2 v + (1 - b2) g^2`, `d = m_hat / (sqrt(v_hat + epsilon_root) + epsilon)`
    with bias-corrected `m_hat`, `v_hat`: epsilon is added AFTER bias correction
    (Keras `Adam` adds it before). `mu_dtype="bfloat16"` stores the first moment
    in bfloat16 (the update itself uses the float32 value of this step), as
    big_vision's ViT recipes do. Learning rate, schedule, decoupled weight
    decay, clipping and freezing: see `BigVisionOptimizer`.

    Args:
        learning_rate: float, big_vision's `lr`.
        beta_1: float, optax `b1`.
        beta_2: float, optax `b2`.
        epsilon: float, optax `eps` (after bias correction).
        epsilon_root: float, optax `eps_root` (inside the square root).
        mu_dtype: None (variable dtype) or a dtype name such as "bfloat16".
        nesterov: bool, optax's Nesterov variant (NAdam).
        **kwargs: `BigVisionOptimizer` arguments (`total_steps`, `schedule`,
            `weight_decay`, `weight_decay_mults`, `learning_rate_mults`,
            `global_clipnorm`, `name`, ...).

    Example:
    >>> opt = BigVisionAdam(learning_rate=1e-3, total_steps=90_000, mu_dtype="bfloat16",
    ...     weight_decay=1e-4, global_clipnorm=1.0,
    ...     schedule=dict(warmup_steps=10_000, decay_type="cosine"))

    Paper: "Adam: A Method for Stochastic Optimization" (Kingma & Ba, 2015);
    recipe: "Better plain ViT baselines for ImageNet-1k" (Beyer et al., 2022).
    """

    def __init__(self, learning_rate=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 epsilon_root=0.0, mu_dtype=None, nesterov=False, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.epsilon_root = epsilon_root
        self.mu_dtype = None if mu_dtype is None else keras.backend.standardize_dtype(mu_dtype)
        self.nesterov = nesterov

    def build_update_rule(self, variables):
        self._mu, self._nu = [], []
        for variable, frozen in zip(variables, self._frozen):
            self._mu.append(None if frozen else self.add_state(variable, "mu", self.mu_dtype))
            self._nu.append(None if frozen else self.add_state(variable, "nu"))

    def update_direction(self, gradient, variable, index):
        b1, b2 = self.beta_1, self.beta_2
        mu_var, nu_var = self._mu[index], self._nu[index]
        mu = (1.0 - b1) * gradient + self.decayed_state(b1, mu_var, gradient.dtype)
        nu = (1.0 - b2) * ops.square(gradient) + b2 * nu_var
        count = ops.cast(self.iterations + 1, "float32")
        correction_1 = ops.cast(1.0 - ops.power(b1, count), gradient.dtype)
        if self.nesterov:
            next_correction_1 = ops.cast(1.0 - ops.power(b1, count + 1.0), gradient.dtype)
            mu_hat = b1 * (mu / next_correction_1) + (1.0 - b1) * (gradient / correction_1)
        else:
            mu_hat = mu / correction_1
        nu_hat = nu / ops.cast(1.0 - ops.power(b2, count), gradient.dtype)
        direction = mu_hat / (ops.sqrt(nu_hat + self.epsilon_root) + self.epsilon)
        self.assign(mu_var, ops.cast(mu, mu_var.dtype))
        self.assign(nu_var, nu)
        return direction

    def get_config(self):
        config = super().get_config()
        config.update({
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
            "epsilon_root": self.epsilon_root,
            "mu_dtype": self.mu_dtype,
            "nesterov": self.nesterov,
        })
        return config
