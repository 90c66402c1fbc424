"""Public-API marker: `@keras_vision_export("keras_vision.models.ViTBackbone")`.

Records the symbol's public path in `PUBLIC_API` (for documentation and tests) and,
for functions and classes with a `get_config` (layers, models, losses, optimizers,
schedules), registers it with Keras serialization under the `keras_vision` package so
`.keras` files, presets and `keras_hub.models.Backbone.from_preset` find it. Other
classes (exporters, errors, `tf.Module`s) are only recorded.
"""

import inspect

import keras

PUBLIC_API = {}


def keras_vision_export(path):
    """Marks a class or function as public API at `path` (serializable when it can be)."""

    def decorator(symbol):
        PUBLIC_API[path] = symbol
        if inspect.isclass(symbol) and not hasattr(symbol, "get_config"):
            return symbol
        name = path.rsplit(".", 1)[-1]
        return keras.saving.register_keras_serializable(package="keras_vision", name=name)(symbol)

    return decorator
