"""Errors of `keras_vision.export`."""

from keras_vision.export._public import public


@public("keras_vision.export.ExportError")
class ExportError(ValueError):
    """A model, pp string or option that cannot be exported as asked."""
