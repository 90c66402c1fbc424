"""Two-tower image-text family: SigLIP / LiT / CLIP-style models (big_vision `proj.image_text`)."""

from keras_vision.models.two_tower import two_tower_builder  # registers the two-tower and text-tower builders
from keras_vision.models.two_tower import two_tower_convert  # registers the "proj.image_text.two_towers" converter
from keras_vision.models.two_tower.text_transformer_backbone import TextTransformerBackbone
from keras_vision.models.two_tower.two_tower_model import TwoTowerModel
from keras_vision.models.two_tower.two_tower_model import l2_normalize
