"""Public-API marker: `@keras_vision_export("keras_vision.models.ViTBackbone")`.

Registers the symbol with Keras serialization under the `keras_vision` package (so
`.keras` files, presets and `keras_hub.models.Backbone.from_preset` find it) and records
its public path in `PUBLIC_API` for documentation and tests.
"""

import keras

PUBLIC_API = {}


def keras_vision_export(path):
    """Marks a class or function as public API at `path` and makes it serializable."""

    def decorator(symbol):
        PUBLIC_API[path] = symbol
        name = path.rsplit(".", 1)[-1]
        return keras.saving.register_keras_serializable(package="keras_vision", name=name)(symbol)

    return decorator
