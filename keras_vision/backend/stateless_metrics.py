"""Stateless update and read of a trainer's loss `Mean` (for hand-written JAX train steps).

Plain `keras` (no jax import), so trainers and `backend/jax` share it.
"""

import keras


def update_loss_metric(trainer, metrics_values, loss):
    """New values of `trainer.metrics_variables` after `trainer.loss_tracker.update_state(loss)`.

    Args:
        trainer: a model with a `loss_tracker` metric among its `metrics_variables`.
        metrics_values: current values of `trainer.metrics_variables`, in order.
        loss: the scalar to add to the running mean.
    """
    mapping = list(zip(trainer.metrics_variables, metrics_values))
    with keras.StatelessScope(state_mapping=mapping) as scope:
        trainer.loss_tracker.update_state(loss)
    return [
        scope.get_current_value(v) if scope.get_current_value(v) is not None else val
        for v, val in zip(trainer.metrics_variables, metrics_values)
    ]


def loss_metric_result(trainer, metrics_values):
    """`trainer.loss_tracker.result()` with the metric variables at `metrics_values`."""
    with keras.StatelessScope(state_mapping=list(zip(trainer.metrics_variables, metrics_values))):
        return trainer.loss_tracker.result()
