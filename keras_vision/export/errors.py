"""Errors of `keras_vision.export`."""

from keras_vision.api_export import keras_vision_export


@keras_vision_export("keras_vision.export.ExportError")
class ExportError(ValueError):
    """A model, pp string or option that cannot be exported as asked."""
