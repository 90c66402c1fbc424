"""Errors of `keras_vision.presets`."""

from keras_vision.api_export import keras_vision_export


@keras_vision_export("keras_vision.presets.PresetError")
class PresetError(ValueError):
    """A preset name that is not known, or a preset folder that is incomplete or inconsistent."""
