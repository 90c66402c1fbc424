"""PaLIBackbone: cached decoding (eager and through generate) vs full recomputation, masks, config, errors."""

import inspect

import numpy as np
import pytest
from keras import ops

from keras_vision.models.pali import PaLIBackbone
from keras_vision.models.pali import PaLISeq2SeqLM
from keras_vision.testing import randomize_weights
from keras_vision.testing import run_backbone_test

# The dims of test_pali_t5.py (encoder 16 image + 64 prompt = 80 positions, decoder 24):
# JAX compiles each eager op once per shape for the whole folder.
TINY = dict(vocabulary_size=97, image_shape=(32, 32, 3), vit_patch_size=8, vit_hidden_dim=32, vit_num_layers=1,
            vit_num_heads=2, vit_intermediate_dim=64, hidden_dim=32, num_layers=2, num_heads=2, head_dim=16,
            intermediate_dim=64)
N_IMAGE, PROMPT, TARGET = 16, 64, 24


def _np(x):
    return np.asarray(ops.convert_to_numpy(x))


def _inputs(seed=1):
    rng = np.random.default_rng(seed)
    encoder_mask = np.ones((2, PROMPT), "int32")
    encoder_mask[1, 41:] = 0  # example 1: a right-padded prompt
    return {
        "images": rng.uniform(-1, 1, (2, 32, 32, 3)).astype("float32"),
        "encoder_tokens": rng.integers(0, TINY["vocabulary_size"], (2, PROMPT)).astype("int32"),
        "encoder_mask": encoder_mask,
        "decoder_tokens": rng.integers(0, TINY["vocabulary_size"], (2, TARGET)).astype("int32"),
        "decoder_mask": np.ones((2, TARGET), "int32"),
    }


def _prompt(x):
    return {k: x[k] for k in ("images", "encoder_tokens", "encoder_mask")}


@pytest.fixture(scope="module")
def backbone():
    return randomize_weights(PaLIBackbone(**TINY))  # the zero-init image head would hide bugs


def _greedy_cached(backbone, x, steps):
    logits, cache = backbone.prefill_cache(_prompt(x), cache_size=TARGET)
    all_logits, tokens = [_np(logits)], []
    for step in range(steps):
        token = all_logits[-1].argmax(-1)[:, None].astype("int32")
        tokens.append(token[:, 0])
        logits, cache = backbone.extend_cache(token, cache, ops.convert_to_tensor(step, "int32"))
        all_logits.append(_np(logits))
    return all_logits, np.stack(tokens, 1), cache


@pytest.mark.multibackend
def test_cached_greedy_decoding_matches_full_recomputation(backbone):
    x, steps = _inputs(), 5
    cached_logits, cached_tokens, cache = _greedy_cached(backbone, x, steps)
    assert [_np(kv).shape for kv in cache["self_kv"]] == [(2, 2, TARGET, 2, 16)] * 2  # one per layer
    assert [_np(kv).shape for kv in cache["cross_kv"]] == [(2, 2, N_IMAGE + PROMPT, 2, 16)] * 2
    np.testing.assert_array_equal(_np(cache["encoder_mask"])[:, N_IMAGE:], x["encoder_mask"])
    # Full teacher-forced recomputation of [0, generated...]: later positions hold zeros,
    # which the causal decoder never lets earlier positions see (one shape for every step).
    decoder_tokens = np.zeros((2, TARGET), "int32")
    for step in range(steps + 1):
        full = _np(backbone({**x, "decoder_tokens": decoder_tokens})["logits"])[:, step]
        np.testing.assert_allclose(cached_logits[step], full, atol=1e-5, rtol=0)
        if step < steps:
            np.testing.assert_array_equal(full.argmax(-1), cached_tokens[:, step])
            decoder_tokens[:, step + 1] = cached_tokens[:, step]
    assert len({tuple(t) for t in cached_tokens.T}) > 1  # not one token repeated: each step mattered
    # The two examples' prompts and images (through the cross-attention cache) move the logits.
    assert min(np.abs(step[0] - step[1]).max() for step in cached_logits) > 1e-2


@pytest.mark.multibackend
def test_generate_equals_step_by_step_cached_decoding(backbone):
    # keras_vision.decoding runs extend_cache in a compiled loop with a traced step.
    x, steps = _inputs(), 5
    _, expected, _ = _greedy_cached(backbone, x, steps)
    tokens = PaLISeq2SeqLM(backbone).generate(_prompt(x), max_new_tokens=steps, stop_token_ids=())
    np.testing.assert_array_equal(_np(tokens), expected)


@pytest.mark.multibackend
def test_decoder_is_causal_and_prompt_padding_is_ignored(backbone):
    x = _inputs()

    def run(**changes):
        out = backbone({**x, **changes})
        return _np(out["logits"]), _np(out["encoder_output"])

    logits, encoded = run()
    # A decoder token never changes the logits of earlier positions, but changes its own.
    changed = x["decoder_tokens"].copy()
    changed[:, 9] = (changed[:, 9] + 1) % TINY["vocabulary_size"]
    new_logits, _ = run(decoder_tokens=changed)
    np.testing.assert_allclose(new_logits[:, :9], logits[:, :9], atol=1e-6, rtol=0)
    assert (np.abs(new_logits[:, 9:] - logits[:, 9:]).max(axis=(1, 2)) > 1e-3).all()
    # Padding (encoder_mask 0) changes neither the logits nor any valid encoder position.
    padded = x["encoder_tokens"].copy()
    padded[1, 41:] = (padded[1, 41:] + 5) % TINY["vocabulary_size"]
    pad_logits, pad_encoded = run(encoder_tokens=padded)
    np.testing.assert_allclose(pad_logits, logits, atol=1e-6, rtol=0)
    valid = N_IMAGE + 41
    np.testing.assert_allclose(pad_encoded[:, :valid], encoded[:, :valid], atol=1e-6, rtol=0)
    # The image tokens are read (the encoder sees [image, prompt]).
    image_logits, _ = run(images=-x["images"])
    assert np.abs(image_logits - logits).max() > 1e-3


@pytest.mark.multibackend
def test_backbone_standard_checks(backbone, tmp_path):
    result = run_backbone_test(
        backbone, _inputs(), tmp_path, atol=1e-5,
        expected_output_shape={"logits": (2, TARGET, 97), "encoder_output": (2, N_IMAGE + PROMPT, 32)},
    )
    config = result["restored"].get_config()
    for key, value in TINY.items():
        assert config[key] == value, key
    assert config["tie_embeddings"] is False and config["activation"] == "gelu"


def test_defaults_are_pali_3b_mt5_large_with_vit_g14():
    defaults = {k: p.default for k, p in inspect.signature(PaLIBackbone.__init__).parameters.items()}
    assert {k: defaults[k] for k in ("hidden_dim", "num_layers", "num_heads", "head_dim", "intermediate_dim",
                                     "vocabulary_size", "relative_attention_num_buckets",
                                     "relative_attention_max_distance")} == dict(
        hidden_dim=1024, num_layers=24, num_heads=16, head_dim=64, intermediate_dim=2816, vocabulary_size=250_112,
        relative_attention_num_buckets=32, relative_attention_max_distance=128)
    assert (defaults["vit_hidden_dim"], defaults["vit_num_layers"], defaults["vit_intermediate_dim"],
            defaults["vit_num_heads"], defaults["vit_patch_size"], defaults["image_shape"]) == (
        1664, 48, 8192, 16, 14, (224, 224, 3))
    assert defaults["tie_embeddings"] is False and defaults["use_gated_activation"] is True


def test_input_errors(backbone):
    x = _inputs()
    with pytest.raises(ValueError, match=r"encoder_mask has shape \(2, 63\) but encoder_tokens have shape \(2, 64\)"):
        backbone({**x, "encoder_mask": x["encoder_mask"][:, 1:]})
    with pytest.raises(ValueError, match=r"decoder_mask has shape \(2, 24, 1\)"):
        backbone({**x, "decoder_mask": x["decoder_mask"][..., None]})
    with pytest.raises(ValueError, match=r"unknown input key\(s\) \['tokens'\]"):
        backbone({**x, "tokens": x["encoder_tokens"]})
    with pytest.raises(ValueError, match="inputs need 'decoder_tokens'"):
        backbone({k: v for k, v in x.items() if k != "decoder_tokens"})
    unknown = r"PaLIBackbone.encode got unknown input key\(s\) \['decoder_mask', 'decoder_tokens'\]"
    with pytest.raises(ValueError, match=unknown):
        backbone.prefill_cache(x, cache_size=4)
    with pytest.raises(ValueError, match="integer cache_size >= 1, got 0"):
        backbone.prefill_cache(_prompt(x), cache_size=0)
    with pytest.raises(ValueError, match=r"shape \(B, 1\), got \(2, 2\)"):
        backbone.extend_cache(np.zeros((2, 2), "int32"), {}, 0)
    with pytest.raises(ValueError, match=r"cache dict of prefill_cache .* got \['kv'\]"):
        backbone.extend_cache(np.zeros((2, 1), "int32"), {"kv": 0}, 0)
    with pytest.raises(ValueError, match=r"static image_shape .* got \(None, None, 3\)"):
        PaLIBackbone(**{**TINY, "image_shape": (None, None, 3)})
