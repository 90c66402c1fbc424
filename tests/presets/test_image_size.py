"""model_image_size: the fixed image size of a model, its backbone or image tower."""

from keras_vision.models.pali import PaliGemmaBackbone
from keras_vision.models.pali import PaliGemmaCausalLM
from keras_vision.models.vit import ViTBackbone
from keras_vision.presets.image_size import model_image_size


def test_image_size_of_single_and_multi_input_models():
    assert model_image_size(ViTBackbone.from_variant("mu/8", image_shape=(40, 24, 3))) == (40, 24)
    any_size = ViTBackbone.from_variant("mu/8", image_shape=(None, None, 3), position_embedding="sincos2d")
    assert model_image_size(any_size) is None
    # Four inputs (images, tokens, mask_ar, mask_input): a list of four shapes, not one 4-D shape.
    pali = PaliGemmaCausalLM(PaliGemmaBackbone(
        vocabulary_size=20, image_shape=(32, 32, 3), vit_patch_size=8, vit_hidden_dim=16, vit_num_layers=1,
        vit_num_heads=2, vit_intermediate_dim=32, hidden_dim=16, num_layers=1, num_heads=2, num_key_value_heads=1,
        head_dim=8, intermediate_dim=32))
    assert len(pali.input_shape) == 4
    assert model_image_size(pali) == (32, 32)
