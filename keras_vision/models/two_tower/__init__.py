"""Two-tower image-text family: SigLIP / LiT / CLIP-style models (big_vision `proj.image_text`)."""

from keras_vision.models.two_tower.text_transformer_backbone import TextTransformerBackbone
from keras_vision.models.two_tower.two_tower_model import TwoTowerModel
from keras_vision.models.two_tower.two_tower_model import l2_normalize
from keras_vision.models.two_tower.two_tower_prepare import prepare_image_text_run
from keras_vision.models.two_tower.two_tower_prepare import prepare_sentencepiece
from keras_vision.models.two_tower.two_tower_prepare import run_pretraining_stages
