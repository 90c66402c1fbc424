"""`config.trainer = "name"`: training-time wrappers the recipe runner fits instead of the model.

A wrapper (FlexiTrainer, a distiller, ...) is registered with a factory
`factory(model, config) -> wrapper`; the wrapper's `fit(x, epochs=, steps_per_epoch=,
callbacks=, verbose=, **kwargs)` follows `keras.Model.fit`'s callback protocol and
trains `model`'s variables with `model.optimizer`, so checkpoints, evaluators and resume
work unchanged. A class with a `from_recipe(model, config)` classmethod may be
registered directly.

Example:
>>> @register_trainer("my_trainer")
... def make(model, config):
...     return MyTrainer(model, **config.my_trainer)
"""

import importlib

from keras_vision.api_export import keras_vision_export
from keras_vision.config import ConfigError

_TRAINERS = {}
# Built-in wrappers, imported on first use (their modules pull in their families).
_LAZY = {"flexi": ("keras_vision.trainers.flexi_trainer", "FlexiTrainer"),
         "distill": ("keras_vision.trainers.distill_builder", "DistillTrainer")}


@keras_vision_export("keras_vision.trainers.register_trainer")
def register_trainer(name):
    """Decorator registering a `factory(model, config)` (or a class with `from_recipe`)."""

    def decorator(factory):
        _TRAINERS[name] = factory
        return factory

    return decorator


def known_trainers():
    return sorted(set(_TRAINERS) | set(_LAZY))


def make_trainer(name, model, config):
    """The wrapper `config.trainer = name` asks for, around the compiled `model`."""
    factory = _TRAINERS.get(name)
    if factory is None and name in _LAZY:
        module, attr = _LAZY[name]
        factory = getattr(importlib.import_module(module), attr)
    if factory is None:
        raise ConfigError(f"Unknown trainer {name!r} (config.trainer); known trainers: {', '.join(known_trainers())}.")
    if isinstance(factory, type):
        return factory.from_recipe(model, config)
    return factory(model, config)
