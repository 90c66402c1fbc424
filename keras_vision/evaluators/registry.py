"""Evaluator registry keyed by big_vision's type names ("classification", "fewshot_lsr", ...).

An evaluator is one file in keras_vision/evaluators/ that decorates its class with
`@register("type_name")`; `keras_vision/evaluators/__init__.py` imports every such file.
"""

from keras_vision.api_export import keras_vision_export
from keras_vision.registry import Registry
from keras_vision.registry import RegistryError

# A class re-defined by a module re-import is the same evaluator.
EVALUATORS = Registry("evaluator type", same=lambda old, new: old.__qualname__ == new.__qualname__)


@keras_vision_export("keras_vision.evaluators.register")
def register(*names):
    """Class decorator registering an evaluator under one or more type names.

    Example:
    >>> @register("my_metric")
    ... class MyEvaluator(Evaluator):
    ...     def run(self, model):
    ...         yield "answer", 42.0
    """
    if not names:
        raise ValueError("register() needs at least one type name.")
    return EVALUATORS.register(*names)


@keras_vision_export("keras_vision.evaluators.known_types")
def known_types():
    """Sorted list of every registered evaluator type name."""
    return EVALUATORS.names()


@keras_vision_export("keras_vision.evaluators.get")
def get(name):
    """The evaluator class registered as `name`.

    big_vision's dotted module names also work through their last component
    ("proj.image_text.discriminative_classifier" -> "discriminative_classifier").
    """
    for key in (name, name.rsplit(".", 1)[-1]):
        if key in EVALUATORS:
            return EVALUATORS.get(key)
    raise RegistryError(f"Unknown evaluator type {name!r}; known types: {', '.join(known_types())}.")
