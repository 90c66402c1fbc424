"""Models: the families and the big_vision-name registry.

Each family package registers its big_vision builders (`build_model`) and checkpoint
converters (`keras_vision.convert.load_big_vision`) when it is imported; this file
imports every family, so the list below is the list of families.
"""

from keras_vision.models import flexivit
from keras_vision.models import pali
from keras_vision.models import two_tower
from keras_vision.models import vit
from keras_vision.models.flexivit import FlexiViTBackbone
from keras_vision.models.flexivit import FlexiViTImageClassifier
from keras_vision.models.registry import MODELS
from keras_vision.models.registry import build_model
from keras_vision.models.registry import register_model
from keras_vision.models.registry import registered_models
from keras_vision.models.registry import resolve_model_kwargs
from keras_vision.models.two_tower import TextTransformerBackbone
from keras_vision.models.two_tower import TwoTowerModel
from keras_vision.models.vit import ViTBackbone
from keras_vision.models.vit import ViTImageClassifier
