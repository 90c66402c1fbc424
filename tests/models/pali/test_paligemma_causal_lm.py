"""PaliGemmaCausalLM: big_vision's next-token loss, fit, serialization and input errors."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_vision.models.pali import PaliGemmaBackbone
from keras_vision.models.pali import PaliGemmaCausalLM
from keras_vision.testing import run_task_test

# The golden's dims (mu/8 ViT at 32 px, a 2-layer multi-query Gemma): every model in these
# tests shares its shapes, so JAX compiles each op once for the whole folder.
TINY = dict(vocabulary_size=97, image_shape=(32, 32, 3), vit_patch_size=8, vit_hidden_dim=32, vit_num_layers=1,
            vit_num_heads=2, vit_intermediate_dim=128, hidden_dim=32, num_layers=2, num_heads=2,
            num_key_value_heads=1, head_dim=16, intermediate_dim=64)


def _np(x):
    return np.asarray(ops.convert_to_numpy(x))


def _batch(seed=0):
    rng = np.random.default_rng(seed)
    tokens = rng.integers(0, TINY["vocabulary_size"], (2, 9)).astype("int32")
    # Example 0: prefix of 4, then 5 causal supervised tokens. Example 1: causal blocks
    # (big_vision's "[1 0 1 0 ...]" form); its last two tokens share a block, so feeding
    # tokens[:, :-1] (not all tokens) matters for the prediction of the last one.
    mask_ar = np.array([[0, 0, 0, 0, 1, 1, 1, 1, 1], [0, 0, 0, 0, 1, 0, 0, 1, 0]], "int32")
    mask_loss = np.array([[0, 0, 0, 0, 1, 1, 1, 1, 1], [0, 0, 0, 0, 0, 1, 1, 1, 1]], "int32")
    return {"images": rng.uniform(-1, 1, (2, 32, 32, 3)).astype("float32"), "tokens": tokens,
            "mask_ar": mask_ar, "mask_loss": mask_loss}


@pytest.fixture(scope="module")
def backbone():
    backbone = PaliGemmaBackbone(**TINY)
    rng = np.random.default_rng(1)
    for variable in backbone.weights:
        variable.assign(rng.normal(0.0, 0.2, variable.shape).astype("float32"))
    return backbone


def _numpy_loss(logits, tokens, mask_loss, ls=0.0):
    """big_vision trainers/proj/paligemma/train.py, in float64."""
    logits = logits.astype("float64")
    logp = logits - logits.max(-1, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(-1, keepdims=True))
    vocab = logits.shape[-1]
    targets = np.eye(vocab)[tokens[:, 1:]]
    if ls:
        targets = np.where(targets == 1.0, 1.0 - ls, ls / (vocab - 1))
    token_pplx = (logp * targets).sum(-1) * mask_loss[:, 1:]
    pplx = -token_pplx.sum(-1) / np.clip(mask_loss[:, 1:].sum(-1), 1, None)
    return pplx.mean()


@pytest.mark.multibackend
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_compute_loss_equals_big_vision_s_loss(backbone, label_smoothing):
    model = PaliGemmaCausalLM(backbone, label_smoothing=label_smoothing)
    batch = _batch()
    # The model sees tokens[:, :-1] and mask_ar[:, :-1], as big_vision's trainer.
    logits = _np(model.text_logits(batch["images"], batch["tokens"][:, :-1], batch["mask_ar"][:, :-1]))
    expected = _numpy_loss(logits, batch["tokens"], batch["mask_loss"], label_smoothing)
    np.testing.assert_allclose(float(_np(model.compute_loss(batch))), expected, rtol=1e-5)
    # y as a dict is merged into x (e.g. a dataset yielding (inputs, {"mask_loss": ...})).
    x = {k: v for k, v in batch.items() if k != "mask_loss"}
    split = model.compute_loss(x, {"mask_loss": batch["mask_loss"]})
    np.testing.assert_allclose(float(_np(split)), expected, rtol=1e-5)
    # Not the loss of the unshifted forward: there example 1's last token would be seen by
    # the position that predicts it.
    full = _np(model.text_logits(batch["images"], batch["tokens"], batch["mask_ar"]))[:, :-1]
    assert abs(_numpy_loss(full, batch["tokens"], batch["mask_loss"], label_smoothing) - expected) > 1e-4
    # An example with no supervised token contributes 0 (normalised by max(count, 1)).
    none = dict(batch, mask_loss=np.array([batch["mask_loss"][0], np.zeros(9, "int32")]))
    expected_none = _numpy_loss(logits, batch["tokens"], none["mask_loss"], label_smoothing)
    np.testing.assert_allclose(float(_np(model.compute_loss(none))), expected_none, rtol=1e-5)


@pytest.mark.multibackend
def test_fit_two_steps_lowers_the_loss(backbone):
    model = PaliGemmaCausalLM(PaliGemmaBackbone.from_config(backbone.get_config()))
    model.backbone.set_weights(backbone.get_weights())
    batch = _batch()
    before = float(_np(model.compute_loss(batch)))
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    history = model.fit(batch, batch_size=2, epochs=2, shuffle=False, verbose=0)
    after = float(_np(model.compute_loss(batch)))
    assert history.history["loss"][0] == pytest.approx(before, rel=1e-4)  # fit reports the same loss
    assert after < before - 1e-3, (before, after)


@pytest.mark.multibackend
def test_task_standard_checks(backbone, tmp_path):
    model = PaliGemmaCausalLM(backbone, label_smoothing=0.1)
    batch = _batch()
    inputs = {"images": batch["images"], "tokens": batch["tokens"], "mask_ar": batch["mask_ar"],
              "mask_input": np.ones((2, 9), "int32")}
    result = run_task_test(model, inputs, tmp_path, expected_output_shape=(2, 9, 97), atol=1e-5,
                           run_preset_test=False)
    assert result["restored"].label_smoothing == 0.1


def test_input_errors(backbone):
    model = PaliGemmaCausalLM(backbone)
    batch = _batch()
    with pytest.raises(ValueError, match="need 'mask_loss'"):
        model.compute_loss({k: v for k, v in batch.items() if k != "mask_loss"})
    with pytest.raises(ValueError, match=r"mask_loss has shape \(2, 8\) but tokens have shape \(2, 9\)"):
        model.compute_loss(dict(batch, mask_loss=batch["mask_loss"][:, :8]))
    with pytest.raises(ValueError, match=r"mask_ar has shape \(2, 8\)"):
        model(dict(batch, mask_ar=batch["mask_ar"][:, 1:]))
    with pytest.raises(ValueError, match="computes its own loss"):
        model.compile(loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=r"need images .* and tokens"):
        model({"images": batch["images"]})
