"""Marks export/presets classes that are not Keras objects as public API.

`keras_vision_export` also registers the symbol for Keras serialization, which needs
a `get_config`; exporters, errors and tf.Modules have none, so they are only listed.
"""

from keras_vision.api_export import PUBLIC_API


def public(path):
    def decorator(symbol):
        PUBLIC_API[path] = symbol
        return symbol

    return decorator
