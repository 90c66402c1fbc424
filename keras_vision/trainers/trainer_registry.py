"""`config.trainer = "name"`: training-time wrappers the recipe runner fits instead of the model.

A wrapper (FlexiTrainer, a distiller, ...) is registered with a factory
`factory(model, config) -> wrapper`; the wrapper's `fit(x, epochs=, steps_per_epoch=,
callbacks=, verbose=, **kwargs)` follows `keras.Model.fit`'s callback protocol and
trains `model`'s variables with `model.optimizer`, so checkpoints, evaluators and resume
work unchanged. A class with a `from_recipe(model, config)` classmethod may be
registered directly. `keras_vision/trainers/__init__.py` registers the built-in ones.

Example:
>>> @register_trainer("my_trainer")
... def make(model, config):
...     return MyTrainer(model, **config.my_trainer)
"""

from keras_vision.api_export import keras_vision_export
from keras_vision.config import ConfigError
from keras_vision.registry import Registry

TRAINERS = Registry("trainer")


@keras_vision_export("keras_vision.trainers.register_trainer")
def register_trainer(name, replace=False):
    """Decorator registering a `factory(model, config)` (or a class with `from_recipe`)."""
    return TRAINERS.register(name, replace=replace)


def known_trainers():
    return TRAINERS.names()


def make_trainer(name, model, config):
    """The wrapper `config.trainer = name` asks for, around the compiled `model`."""
    if name not in TRAINERS:
        raise ConfigError(f"Unknown trainer {name!r} (config.trainer); known trainers: {', '.join(known_trainers())}.")
    factory = TRAINERS.get(name)
    if isinstance(factory, type):
        return factory.from_recipe(model, config)
    return factory(model, config)
