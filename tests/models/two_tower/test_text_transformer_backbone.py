"""TextTransformerBackbone: shapes per pooling, config round-trip, .keras save/load, preset."""

import numpy as np
import pytest
from keras import ops

from keras_vision.models import build_model
from keras_vision.models.two_tower import TextTransformerBackbone
from keras_vision.testing import run_backbone_test

pytestmark = pytest.mark.multibackend


def _tiny(**kw):
    args = dict(vocabulary_size=30, sequence_length=5, hidden_dim=16, num_layers=1, num_heads=2, intermediate_dim=32)
    args.update(kw)
    return TextTransformerBackbone(**args)


@pytest.mark.parametrize("pooling", ["last", "first", "mean", "max", "map"])
def test_poolings(pooling):
    tokens = np.array([[3, 4, 5, 1, 1], [7, 8, 1, 1, 1]], "int32")
    model = _tiny(pooling=pooling, output_dim=8)
    out = model(tokens)
    assert tuple(out["sequence_output"].shape) == (2, 5, 16)
    assert tuple(out["pre_logits"].shape) == (2, 16)
    assert tuple(out["embeddings"].shape) == (2, 8)
    seq = ops.convert_to_numpy(out["sequence_output"])
    pooled = ops.convert_to_numpy(out["pre_logits"])
    expected = {"last": seq[:, -1], "first": seq[:, 0], "mean": seq.mean(1), "max": seq.max(1)}.get(pooling)
    if expected is not None:
        np.testing.assert_allclose(pooled, expected, atol=1e-6)


def test_no_mask_every_token_attends():
    # big_vision's text tower has no padding mask: changing a pad token changes the pooled output.
    model = _tiny()
    a = ops.convert_to_numpy(model(np.array([[3, 4, 1, 1, 1]], "int32"))["pre_logits"])
    b = ops.convert_to_numpy(model(np.array([[3, 4, 1, 9, 1]], "int32"))["pre_logits"])
    assert np.abs(a - b).max() > 1e-4


def test_unknown_pooling_lists_known():
    with pytest.raises(ValueError, match="last"):
        _tiny(pooling="cls")


def test_vocab_logits_tied():
    model = _tiny()
    seq = model(np.ones((1, 5), "int32"))["sequence_output"]
    logits = ops.convert_to_numpy(model.vocab_logits(seq))
    table = ops.convert_to_numpy(model.get_layer("Embed_0").embeddings)
    np.testing.assert_allclose(logits, ops.convert_to_numpy(seq) @ table.T, atol=1e-5)


@pytest.mark.parametrize("pooling", ["map", "last"])
def test_config_round_trip_keras_save_load_and_preset(tmp_path, pooling):
    tokens = np.array([[3, 4, 5, 1, 1]], "int32")
    run_backbone_test(
        _tiny(output_dim=8, pooling=pooling), tokens, tmp_path,
        expected_output_shape={"sequence_output": (1, 5, 16), "pre_logits": (1, 16), "embeddings": (1, 8)},
    )


def test_builder_big_vision_kwargs_and_variant():
    model = build_model("proj.image_text.text_transformer", variant="mu", vocab_size=50, num_classes=12, seq_len=7)
    assert (model.hidden_dim, model.num_layers, model.intermediate_dim, model.num_heads) == (32, 1, 128, 2)
    assert model.output_dim == 12 and model.sequence_length == 7 and model.pooling == "last"
    with pytest.raises(ValueError, match="vocab_size"):
        build_model("proj.image_text.text_transformer", vocab=3)
