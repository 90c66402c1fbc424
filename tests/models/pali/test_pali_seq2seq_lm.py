"""PaLISeq2SeqLM: teacher-forcing next-token loss vs NumPy, fit, serialization, decoding delegation, errors."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_vision.models.pali import PaLIBackbone
from keras_vision.models.pali import PaLISeq2SeqLM
from keras_vision.testing import randomize_weights
from keras_vision.testing import run_task_test

# The dims of test_pali_backbone.py (16 image + 64 prompt tokens, 24 targets): shared compiled ops.
TINY = dict(vocabulary_size=97, image_shape=(32, 32, 3), vit_patch_size=8, vit_hidden_dim=32, vit_num_layers=1,
            vit_num_heads=2, vit_intermediate_dim=64, hidden_dim=32, num_layers=2, num_heads=2, head_dim=16,
            intermediate_dim=64)


def _np(x):
    return np.asarray(ops.convert_to_numpy(x))


def _batch(seed=0):
    rng = np.random.default_rng(seed)
    encoder_mask = np.ones((2, 64), "int32")
    encoder_mask[1, 41:] = 0
    mask_loss = np.zeros((2, 24), "int32")
    mask_loss[0, :20] = 1  # example 0: 20 answer tokens, then padding
    mask_loss[1, :7] = 1  # example 1: 7
    return {
        "images": rng.uniform(-1, 1, (2, 32, 32, 3)).astype("float32"),
        "encoder_tokens": rng.integers(0, 97, (2, 64)).astype("int32"),
        "encoder_mask": encoder_mask,
        "decoder_tokens": rng.integers(0, 97, (2, 24)).astype("int32"),  # the targets
        "mask_loss": mask_loss,
    }


@pytest.fixture(scope="module")
def backbone():
    return randomize_weights(PaLIBackbone(**TINY), seed=1, std=0.2)


def _numpy_loss(logits, targets, mask_loss, ls=0.0):
    """Teacher-forcing cross-entropy in float64: per example over its loss tokens, then the batch mean."""
    logits = logits.astype("float64")
    logp = logits - logits.max(-1, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(-1, keepdims=True))
    vocab = logits.shape[-1]
    onehot = np.eye(vocab)[targets]
    if ls:
        onehot = np.where(onehot == 1.0, 1.0 - ls, ls / (vocab - 1))
    per_token = -(logp * onehot).sum(-1) * mask_loss
    return (per_token.sum(-1) / np.maximum(mask_loss.sum(-1), 1)).mean()


def _teacher_forced_logits(backbone, batch):
    targets = batch["decoder_tokens"]
    shifted = np.concatenate([np.zeros((2, 1), "int32"), targets[:, :-1]], axis=1)  # start token 0
    inputs = {k: batch[k] for k in ("images", "encoder_tokens", "encoder_mask")}
    return _np(backbone({**inputs, "decoder_tokens": shifted, "decoder_mask": np.ones_like(shifted)})["logits"])


@pytest.mark.multibackend
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_compute_loss_equals_a_numpy_computation(backbone, label_smoothing):
    model = PaLISeq2SeqLM(backbone, label_smoothing=label_smoothing)
    batch = _batch()
    logits = _teacher_forced_logits(backbone, batch)
    expected = _numpy_loss(logits, batch["decoder_tokens"], batch["mask_loss"], label_smoothing)
    np.testing.assert_allclose(float(_np(model.compute_loss(batch))), expected, rtol=1e-5)
    # A call on a training batch is the teacher-forced pass (what fit hands compute_loss as y_pred).
    np.testing.assert_allclose(_np(model(batch)), logits, atol=1e-6, rtol=0)
    np.testing.assert_allclose(float(_np(model.compute_loss(batch, y_pred=model(batch)))), expected, rtol=1e-5)
    # y as a dict is merged into x; then y_pred (computed without the shift) is not trusted.
    x = {k: v for k, v in batch.items() if k != "mask_loss"}
    unshifted = model(x)
    split = model.compute_loss(x, {"mask_loss": batch["mask_loss"]}, y_pred=unshifted)
    np.testing.assert_allclose(float(_np(split)), expected, rtol=1e-5)
    # The shift matters: the unshifted logits give another loss.
    wrong = _numpy_loss(_np(unshifted), batch["decoder_tokens"], batch["mask_loss"], label_smoothing)
    assert abs(wrong - expected) > 1e-3
    # An example with no loss token contributes 0 (normalised by max(count, 1)) to the mean.
    none = dict(batch, mask_loss=np.stack([batch["mask_loss"][0], np.zeros(24, "int32")]))
    expected_none = _numpy_loss(logits, batch["decoder_tokens"], none["mask_loss"], label_smoothing)
    np.testing.assert_allclose(float(_np(model.compute_loss(none))), expected_none, rtol=1e-5)


@pytest.mark.multibackend
def test_fit_two_steps_lowers_the_loss(backbone):
    model = PaLISeq2SeqLM(PaLIBackbone.from_config(backbone.get_config()))
    model.backbone.set_weights(backbone.get_weights())
    batch = _batch()
    before = float(_np(model.compute_loss(batch)))
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    history = model.fit(batch, batch_size=2, epochs=2, shuffle=False, verbose=0)
    after = float(_np(model.compute_loss(batch)))
    assert history.history["loss"][0] == pytest.approx(before, rel=1e-4)  # fit reports the same loss
    assert after < before - 1e-3, (before, after)


@pytest.mark.multibackend
def test_task_standard_checks_and_decoding(backbone, tmp_path):
    model = PaLISeq2SeqLM(backbone, label_smoothing=0.1)
    batch = _batch()
    inputs = {k: batch[k] for k in ("images", "encoder_tokens", "encoder_mask", "decoder_tokens")}
    inputs["decoder_mask"] = np.ones((2, 24), "int32")
    result = run_task_test(model, inputs, tmp_path, expected_output_shape=(2, 24, 97), atol=1e-5)
    assert result["restored"].label_smoothing == 0.1
    assert result["from_preset"].label_smoothing == 0.1
    # prefill_cache / extend_cache are the backbone's.
    prompt = {k: batch[k] for k in ("images", "encoder_tokens", "encoder_mask")}
    logits, cache = model.prefill_cache(prompt, cache_size=24)
    expected, _ = backbone.prefill_cache(prompt, cache_size=24)
    np.testing.assert_allclose(_np(logits), _np(expected), atol=1e-6, rtol=0)
    step, _ = model.extend_cache(np.ones((2, 1), "int32"), cache, 0)
    assert _np(step).shape == (2, 97)


def test_input_errors(backbone):
    model = PaLISeq2SeqLM(backbone)
    batch = _batch()
    with pytest.raises(ValueError, match="need 'mask_loss'"):
        model.compute_loss({k: v for k, v in batch.items() if k != "mask_loss"})
    with pytest.raises(ValueError, match=r"mask_loss has shape \(2, 23\) but decoder_tokens have shape \(2, 24\)"):
        model.compute_loss(dict(batch, mask_loss=batch["mask_loss"][:, 1:]))
    with pytest.raises(ValueError, match=r"unknown input key\(s\) \['labels'\]"):
        model.compute_loss(dict(batch, labels=batch["mask_loss"]))
    with pytest.raises(ValueError, match=r"encoder_mask has shape \(2, 63\)"):
        model(dict(batch, encoder_mask=batch["encoder_mask"][:, 1:]))
    with pytest.raises(ValueError, match="computes its own loss"):
        model.compile(loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="got a separate y of type ndarray"):
        model.compute_loss(batch, batch["mask_loss"])


def test_builder_variants_and_resolver():
    from keras_vision.models import build_model
    from keras_vision.models import resolve_model_kwargs

    llm = dict(width=32, depth=2, mlp_dim=64, num_heads=2, head_dim=16, vocab_size=97)
    model = build_model("proj.pali.pali", img=dict(variant="mu/8"), llm=llm, image_size=32)
    b = model.backbone
    assert isinstance(model, PaLISeq2SeqLM)
    assert (b.hidden_dim, b.num_layers, b.num_heads, b.intermediate_dim, b.vocabulary_size) == (32, 2, 2, 64, 97)
    assert (b.vit_hidden_dim, b.vit_patch_size, b.image_shape) == (32, 8, (32, 32, 3))
    # PaLI-3B: ViT-G/14 + mT5-Large; configs store numbers, not variant names.
    resolved = resolve_model_kwargs("proj.pali.pali", {"img": {"variant": "G/14"}, "llm": "mt5_large"})
    assert resolved["llm"] == dict(width=1024, depth=24, num_heads=16, head_dim=64, mlp_dim=2816,
                                   vocab_size=250_112, dropout=0.0)
    assert resolved["img"]["width"] == 1664 and "variant" not in resolved["img"]
    with pytest.raises(ValueError, match="Unknown mT5 variant 'mt5_huge'; known: .*mt5_large"):
        build_model("proj.pali.pali", img=dict(variant="mu/8"), llm="mt5_huge", image_size=32)
    with pytest.raises(ValueError, match=r"Unknown PaLI llm field\(s\) \['num_kv_heads'\]"):
        build_model("proj.pali.pali", img=dict(variant="mu/8"), llm={**llm, "num_kv_heads": 1}, image_size=32)
