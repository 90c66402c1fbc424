"""Name -> loss function registry behind `keras_vision.losses.get(name)`.

Recipes name their loss with big_vision's names (`config.loss = "sigmoid_xent"`);
every loss module registers its functions here with `@register_loss(...)`, so
`get` works for classification, distillation and contrastive losses alike.
"""

from keras_vision.api_export import keras_vision_export
from keras_vision.registry import Registry
from keras_vision.registry import RegistryError

LOSSES = Registry("loss name")


@keras_vision_export("keras_vision.losses.register_loss")
def register_loss(name, *aliases):
    """Decorator registering a loss function under `name` (and `aliases`).

    Registering the same function twice under a name is a no-op; registering a
    different function under a taken name is an error (no silent override).

    Args:
        name: str, the big_vision name of the loss (e.g. "softmax_xent").
        *aliases: further names for the same function.

    Example:
    >>> @register_loss("my_loss")
    ... def my_loss(logits, labels, reduction=True): ...
    """

    return LOSSES.register(name, *aliases)


@keras_vision_export("keras_vision.losses.get")
def get(name):
    """Returns the loss function registered as `name` (callables pass through).

    Args:
        name: str (a registered name, e.g. "softmax_xent", "sigmoid_xent",
            "weighted_softmax_xent", "dist") or a callable.

    Example:
    >>> loss_fn = keras_vision.losses.get("sigmoid_xent")
    >>> loss = loss_fn(logits=logits, labels=labels)
    """
    if callable(name):
        return name
    if name not in LOSSES:
        raise RegistryError(f"Unknown loss {name!r}; expected one of {registered_losses()}.")
    return LOSSES.get(name)


def registered_losses():
    """Sorted list of every registered loss name."""
    return LOSSES.names()
