"""make_transformer_encoder / apply_transformer_encoder: the encoder stack shared by ViT and text towers."""

import keras
import numpy as np
import pytest
from keras import ops
from np_reference import randomize

from keras_vision.layers import LayerNorm
from keras_vision.layers import TransformerEncoderBlock
from keras_vision.layers import apply_transformer_encoder
from keras_vision.layers import make_transformer_encoder
from keras_vision.testing import assert_keras_round_trip


def _x(shape=(2, 5, 16), seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def _model(blocks, norm, scope="Transformer", **call_kwargs):
    x = keras.Input(shape=(5, 16))
    return keras.Model(x, apply_transformer_encoder(x, blocks, norm, scope=scope, **call_kwargs))


def test_layers_names_and_forwarded_kwargs():
    blocks, norm = make_transformer_encoder(
        3, 2, intermediate_dim=24, dropout_rate=0.1, block_type="parallel", qk_norm=True, use_bias=False,
        layer_norm_epsilon=1e-5, stochastic_depth_rate=0.5,
    )
    assert [b.name for b in blocks] == ["encoderblock_0", "encoderblock_1", "encoderblock_2"]
    assert all(type(b) is TransformerEncoderBlock for b in blocks)
    assert [b.stochastic_depth_rate for b in blocks] == [0.0, 0.25, 0.5]  # linear in depth
    cfg = blocks[1].get_config()
    assert (cfg["intermediate_dim"], cfg["dropout_rate"], cfg["block_type"], cfg["qk_norm"], cfg["use_bias"],
            cfg["layer_norm_epsilon"]) == (24, 0.1, "parallel", True, False, 1e-5)
    assert isinstance(norm, LayerNorm) and norm.name == "encoder_norm"
    assert (norm.use_bias, norm.epsilon) == (False, 1e-5)
    one, _ = make_transformer_encoder(1, 2, stochastic_depth_rate=0.5)
    assert one[0].stochastic_depth_rate == 0.0
    custom, norm = make_transformer_encoder(2, 2, block_name="layer{}", norm_name="final_norm")
    assert [b.name for b in custom] + [norm.name] == ["layer0", "layer1", "final_norm"]


@pytest.mark.multibackend
def test_matches_the_hand_written_stack_and_records_intermediates():
    blocks, norm = make_transformer_encoder(2, 2, intermediate_dim=32)
    model = _model(blocks, norm)
    randomize(model, seed=3, scale=0.3)
    assert model.weights[0].path == "Transformer/encoderblock_0/LayerNorm_0/scale"
    assert model.weights[-1].path == "Transformer/encoder_norm/bias"
    x = _x()
    h = x
    for block in blocks:
        h = block(h)
    expected = ops.convert_to_numpy(norm(h))
    np.testing.assert_allclose(ops.convert_to_numpy(model(x)), expected, atol=1e-5)

    out = {}
    y = apply_transformer_encoder(x, blocks, norm, outputs=out, intermediates=True, prefix="encoder/")
    np.testing.assert_allclose(ops.convert_to_numpy(y), expected, atol=1e-5)
    assert sorted(out) == sorted(
        [f"encoder/block{i:02d}/{k}" for i in range(2) for k in ("sa", "+sa", "mlp", "+mlp")] + ["encoder/pre_ln"]
    )
    np.testing.assert_allclose(ops.convert_to_numpy(out["encoder/pre_ln"]), ops.convert_to_numpy(h), atol=1e-5)
    np.testing.assert_allclose(
        ops.convert_to_numpy(out["encoder/block01/+mlp"]), ops.convert_to_numpy(h), atol=1e-5
    )
    only_pre_ln = {}
    apply_transformer_encoder(x, blocks, norm, outputs=only_pre_ln)
    assert list(only_pre_ln) == ["pre_ln"]


@pytest.mark.multibackend
def test_call_kwargs_reach_every_block():
    blocks, norm = make_transformer_encoder(2, 2, intermediate_dim=32)
    x = _x()
    apply_transformer_encoder(x, blocks, norm)
    for i, layer in enumerate(blocks + [norm]):
        randomize(layer, seed=4 + i, scale=0.3)
    causal = ops.convert_to_numpy(apply_transformer_encoder(x, blocks, norm, use_causal_mask=True))
    full = ops.convert_to_numpy(apply_transformer_encoder(x, blocks, norm))
    # Causal: token 0 sees only itself, so changing later tokens leaves it unchanged.
    x2 = x.copy()
    x2[:, 1:] += 1.0
    causal2 = ops.convert_to_numpy(apply_transformer_encoder(x2, blocks, norm, use_causal_mask=True))
    np.testing.assert_allclose(causal2[:, 0], causal[:, 0], atol=1e-5)
    assert np.abs(causal[:, 0] - full[:, 0]).max() > 1e-4


@pytest.mark.multibackend
def test_keras_save_load(tmp_path):
    blocks, norm = make_transformer_encoder(2, 2, intermediate_dim=32, block_type="parallel", qk_norm=True)
    model = _model(blocks, norm)
    randomize(model, seed=5, scale=0.3)
    restored = assert_keras_round_trip(model, _x(), tmp_path, atol=1e-6)
    # A plain keras.Model is rebuilt from its layer graph, without the name scope (the
    # backbones keep it: their from_config re-runs __init__); the weights are the same.
    assert ["Transformer/" + v.path for v in restored.weights] == [v.path for v in model.weights]
    assert [layer.get_config() for layer in restored.layers[1:]] == [layer.get_config() for layer in model.layers[1:]]
