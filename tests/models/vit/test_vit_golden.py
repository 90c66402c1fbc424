"""ViT parity with big_vision's own outputs (goldens), intermediates included."""

import numpy as np
import pytest
from keras import ops

from keras_vision.convert import load_big_vision
from keras_vision.models import ViTImageClassifier

GOLDENS = ["vit_gap_learn", "vit_map_learn", "vit_map_scan", "vit_tok_learn_rep"]
# Measured max abs errors (JAX, CPU): 1.5e-6, 1.5e-6, 2.3e-6, 1.9e-6.
ATOL = 1e-5


def _params(g):
    return {k: v for k, v in g.items() if k.startswith("params/")}


def _assert_intermediates(model, g):
    out = model.get_intermediates(g["inputs/image"])
    expected = {k[len("outputs/") :]: v for k, v in g.items() if k.startswith("outputs/")}
    missing = sorted(set(expected) - set(out))
    assert not missing, missing
    errors = {k: float(np.abs(ops.convert_to_numpy(out[k]) - v).max()) for k, v in expected.items()}
    bad = {k: e for k, e in errors.items() if e > ATOL}
    assert not bad, bad
    return errors


@pytest.mark.multibackend
@pytest.mark.parametrize("name", GOLDENS)
def test_golden_parity(golden, name):
    g = golden(name)
    model = load_big_vision(_params(g))
    assert isinstance(model, ViTImageClassifier)
    errors = _assert_intermediates(model, g)
    # stem, posemb, each block's +sa/+mlp, encoded, pre_logits, logits are all covered
    assert {"stem", "with_posemb", "encoded", "pre_logits", "logits", "encoder/block01/+sa"} <= set(errors)
    logits = ops.convert_to_numpy(model(g["inputs/image"]))
    np.testing.assert_allclose(logits, g["outputs/logits"], atol=ATOL, rtol=0)


@pytest.mark.multibackend
def test_augreg_layout_reproduces_tok_rep_outputs(golden):
    legacy = golden("vit_tok_augreg_layout")
    ref = golden("vit_tok_learn_rep")
    assert "Transformer/posembed_input/pos_embedding" in legacy  # the N+1 legacy layout
    model = load_big_vision(legacy)
    _assert_intermediates(model, ref)


@pytest.mark.multibackend
def test_pool_none_gives_per_token_logits(golden):
    # pool "none" has the same params as "gap"; its per-token logits are gap's logits_2d.
    g = golden("vit_gap_learn")
    model = load_big_vision(_params(g), config={"pool_type": "none"})
    logits = ops.convert_to_numpy(model(g["inputs/image"]))
    assert logits.shape == (2, 16, 10)
    np.testing.assert_allclose(logits, g["outputs/logits_2d"].reshape(2, 16, 10), atol=ATOL, rtol=0)
    out = model.get_intermediates(g["inputs/image"], names=["pre_logits", "logits_2d"])
    np.testing.assert_allclose(ops.convert_to_numpy(out["pre_logits"]), g["outputs/encoded"], atol=ATOL)
    np.testing.assert_allclose(ops.convert_to_numpy(out["logits_2d"]), g["outputs/logits_2d"], atol=ATOL)


@pytest.mark.multibackend
def test_bfloat16_forward_close_to_float32(golden):
    g = golden("vit_map_learn")
    model = load_big_vision(_params(g), config={"dtype": "mixed_bfloat16"})
    assert model.backbone.get_layer("encoderblock_0").compute_dtype == "bfloat16"
    assert all(v.dtype == "float32" for v in model.weights)
    logits = ops.convert_to_numpy(ops.cast(model(g["inputs/image"]), "float32"))
    err = np.abs(logits - g["outputs/logits"]).max()
    scale = np.abs(g["outputs/logits"]).max()
    assert err < 0.05 * scale, (err, scale)
    assert err > 0  # it really ran in bfloat16
