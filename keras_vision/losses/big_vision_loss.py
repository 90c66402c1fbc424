"""`keras.losses.Loss` wrapper around a registered big_vision loss, for `compile()`."""

import inspect

import keras

from keras_vision.api_export import keras_vision_export
from keras_vision.losses.registry import get

# (prediction, target) argument names of the losses this wrapper can drive.
_PREDICTION_TARGET_ARGS = (("logits", "labels"), ("student", "teacher"))


@keras_vision_export("keras_vision.losses.BigVisionLoss")
class BigVisionLoss(keras.losses.Loss):
    """A big_vision loss (by registered name) as a `keras.losses.Loss`.

    Calls `loss_fn(y_pred, y_true, **loss_kwargs)` per example (big_vision's
    `reduction=False`) and lets Keras reduce: the default
    "sum_over_batch_size" is big_vision's batch mean, and `sample_weight`
    (one weight per example) works as for any Keras loss. Token weights of
    `weighted_softmax_xent` are data, not config: call the function directly.

    Args:
        loss_name: registered name, e.g. "softmax_xent", "sigmoid_xent",
            "weighted_softmax_xent" or "dist" (any (prediction, target) loss).
        reduction: Keras reduction over the per-example losses.
        name: optional loss name (defaults to `loss_name`).
        dtype: dtype the inputs are cast to (Keras default: floatx).
        **loss_kwargs: extra keyword arguments of the loss, e.g. `kl=True`,
            `label_smoothing=0.1`, or `kind="kl", t=2.0` for "dist".

    Example:
    >>> model.compile(optimizer=opt, loss=BigVisionLoss("sigmoid_xent"))
    >>> distill = BigVisionLoss("dist", kind="kl", t=2.0)
    >>> distill(teacher_logits, student_logits)  # (y_true, y_pred)
    """

    def __init__(
        self,
        loss_name="softmax_xent",
        reduction="sum_over_batch_size",
        name=None,
        dtype=None,
        **loss_kwargs,
    ):
        super().__init__(name=name or loss_name, reduction=reduction, dtype=dtype)
        self.loss_name = loss_name
        self.loss_kwargs = dict(loss_kwargs)
        self._fn = get(loss_name)
        params = list(inspect.signature(self._fn).parameters)
        if tuple(params[:2]) not in _PREDICTION_TARGET_ARGS:
            raise ValueError(
                f"Loss {loss_name!r} takes {params[:2]}, not a (prediction, target) pair "
                f"{list(_PREDICTION_TARGET_ARGS)}; call it directly instead of wrapping it."
            )
        unknown = sorted(set(self.loss_kwargs) - set(params[2:]) - {"reduction"})
        if unknown:
            raise ValueError(
                f"Unknown argument(s) {unknown} for loss {loss_name!r}; expected some of "
                f"{[p for p in params[2:] if p != 'reduction']}."
            )
        self.loss_kwargs.pop("reduction", None)
        self._per_example_kwargs = {"reduction": False} if "reduction" in params else {}

    def call(self, y_true, y_pred):
        return self._fn(y_pred, y_true, **self._per_example_kwargs, **self.loss_kwargs)

    def get_config(self):
        config = super().get_config()
        config.update({"loss_name": self.loss_name, **self.loss_kwargs})
        return config
