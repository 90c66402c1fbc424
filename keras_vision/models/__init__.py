"""Models: families (vit, flexivit, two_tower, ...) and the big_vision-name registry."""

from keras_vision.models.registry import build_model
from keras_vision.models.registry import register_model
from keras_vision.models.registry import registered_models
from keras_vision.models.vit import ViTBackbone
from keras_vision.models.vit import ViTImageClassifier


def __getattr__(name):
    # Other families' public classes (e.g. TwoTowerModel, FlexiViTBackbone) are found
    # lazily, so this file need not know them and importing keras_vision.models stays cheap.
    from keras_vision.api_export import PUBLIC_API
    from keras_vision.models.registry import import_families

    key = f"keras_vision.models.{name}"
    if key not in PUBLIC_API:
        import_families()
    if key in PUBLIC_API:
        return PUBLIC_API[key]
    raise AttributeError(f"module 'keras_vision.models' has no attribute {name!r}")
