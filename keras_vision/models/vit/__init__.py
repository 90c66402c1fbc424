"""ViT family: backbone, classifier, variants, big_vision builder and checkpoint converter."""

from keras_vision.models.vit import vit_builder  # registers "vit"
from keras_vision.models.vit import vit_convert  # registers the "vit" converter
from keras_vision.models.vit.vit_backbone import ViTBackbone
from keras_vision.models.vit.vit_image_classifier import ViTImageClassifier
from keras_vision.models.vit.vit_variants import VIT_VARIANTS
from keras_vision.models.vit.vit_variants import decode_variant
