"""Evaluator registry keyed by big_vision's type names ("classification", "fewshot_lsr", ...).

A new evaluator is one file in keras_vision/evaluators/ that decorates its class with
`@register("type_name")`; `get()` imports every module of the package before giving up,
so no central list has to be edited.
"""

import importlib
import pkgutil

from keras_vision.api_export import keras_vision_export
from keras_vision.name_registry import register_names

_REGISTRY = {}
_imported_all = False


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

    def decorator(cls):
        # A class re-defined by a re-import is the same evaluator.
        return register_names(_REGISTRY, "Evaluator type", names, cls,
                              same=lambda old, new: old.__qualname__ == new.__qualname__)

    return decorator


def _import_all():
    global _imported_all
    if _imported_all:
        return
    import keras_vision.evaluators as pkg

    for info in pkgutil.walk_packages(pkg.__path__, prefix=pkg.__name__ + "."):
        importlib.import_module(info.name)
    _imported_all = True


@keras_vision_export("keras_vision.evaluators.known_types")
def known_types():
    """Sorted list of every registered evaluator type name."""
    _import_all()
    return sorted(_REGISTRY)


@keras_vision_export("keras_vision.evaluators.get")
def get(name):
    """The evaluator class registered as `name`.

    big_vision's dotted module names also work through their last component
    ("proj.image_text.discriminative_classifier" -> "discriminative_classifier").
    """
    for attempt in range(2):
        for key in (name, name.rsplit(".", 1)[-1]):
            if key in _REGISTRY:
                return _REGISTRY[key]
        if attempt == 0:
            _import_all()
    raise ValueError(f"Unknown evaluator type {name!r}; known types: {', '.join(known_types())}.")
