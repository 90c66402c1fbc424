"""FlexiViT family: one set of ViT weights for every patch size (big_vision `proj.flexi.vit`).

Importing this package registers the "proj.flexi.vit" model builder and converter.
"""

from keras_vision.models.flexivit import flexivit_builder  # registers "proj.flexi.vit"
from keras_vision.models.flexivit import flexivit_convert  # registers the converter
from keras_vision.models.flexivit.flexi_position_embedding import FlexiPositionEmbedding
from keras_vision.models.flexivit.flexivit_backbone import FlexiViTBackbone
from keras_vision.models.flexivit.flexivit_image_classifier import FlexiViTImageClassifier
from keras_vision.models.flexivit.flexivit_predict import model_at_patch_size
from keras_vision.models.flexivit.flexivit_presets import FLEXIVIT_CHECKPOINTS
from keras_vision.models.flexivit.flexivit_variants import FLEXIVIT_VARIANTS
