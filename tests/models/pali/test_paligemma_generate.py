"""PaliGemmaCausalLM.generate: greedy/beam decoding with the cache vs full recomputation, mixed prompt lengths."""

import numpy as np
import pytest

from keras_vision.models.pali import PaliGemmaBackbone
from keras_vision.models.pali import PaliGemmaCausalLM
from keras_vision.testing import randomize_weights

TINY = dict(vocabulary_size=97, image_shape=(32, 32, 3), vit_patch_size=8, vit_hidden_dim=32, vit_num_layers=1,
            vit_num_heads=2, vit_intermediate_dim=128, hidden_dim=32, num_layers=2, num_heads=2,
            num_key_value_heads=1, head_dim=16, intermediate_dim=64)
EOS = 1


@pytest.fixture(scope="module")
def model():
    return PaliGemmaCausalLM(randomize_weights(PaliGemmaBackbone(**TINY)))


def _prompts(seed=1):
    rng = np.random.default_rng(seed)
    mask_input = np.array([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 1, 1, 0, 0]], "int32")
    return {
        "images": rng.uniform(-1, 1, (3, 32, 32, 3)).astype("float32"),
        "tokens": rng.integers(2, 97, (3, 5)).astype("int32") * mask_input,
        "mask_ar": np.zeros((3, 5), "int32"),
        "mask_input": mask_input,
    }


def _full_logits(model, image, prompt, generated):
    """Next-token log-probabilities after [prompt, generated], recomputed from scratch (no cache)."""
    tokens = np.array([list(prompt) + list(generated)], "int32")
    mask_ar = np.array([[0] * len(prompt) + [1] * len(generated)], "int32")
    logits = np.asarray(model.text_logits(image[None], tokens, mask_ar))[0, -1]
    z = logits - logits.max()
    return z - np.log(np.exp(z).sum())


def _score(model, image, prompt, generated):
    total = 0.0
    for i, token in enumerate(generated):
        total += _full_logits(model, image, prompt, generated[:i])[token]
        if token == EOS:
            break
    return total


@pytest.mark.multibackend
def test_greedy_generate_equals_decoding_each_prompt_alone_without_cache(model):
    x = _prompts()
    out = np.asarray(model.generate(x, max_new_tokens=4, stop_token_ids=()))
    assert out.shape == (3, 4) and out.dtype == np.int32
    for i in range(3):
        prompt = x["tokens"][i, : x["mask_input"][i].sum()]
        generated = []
        for _ in range(4):
            generated.append(int(_full_logits(model, x["images"][i], prompt, generated).argmax()))
        assert out[i].tolist() == generated


@pytest.mark.multibackend
def test_beam_search_scores_at_least_greedy_and_stops_at_eos(model):
    x = _prompts(2)
    greedy = np.asarray(model.generate(x, max_new_tokens=3, stop_token_ids=()))
    beam = np.asarray(model.generate(x, max_new_tokens=3, sampler="beam(4)", stop_token_ids=()))
    for i in range(3):
        prompt = x["tokens"][i, : x["mask_input"][i].sum()]
        assert _score(model, x["images"][i], prompt, beam[i]) >= _score(model, x["images"][i], prompt, greedy[i]) - 1e-4
    # Any generated id can be a stop token: the output keeps it and pads after it.
    stop = int(greedy[0, 1])
    stopped = np.asarray(model.generate(x, max_new_tokens=3, stop_token_ids=(stop,)))
    first = greedy[0].tolist().index(stop)
    assert stopped[0].tolist() == greedy[0, : first + 1].tolist() + [0] * (2 - first)


def test_generate_compiles_once_per_shape(model, monkeypatch):
    calls = []
    original = model.backbone.prefill_cache
    monkeypatch.setattr(model.backbone, "prefill_cache", lambda *a, **k: calls.append(1) or original(*a, **k))
    x = _prompts()
    first = np.asarray(model.generate(x, max_new_tokens=2, sampler="top_k(3)", seed=3))
    again = np.asarray(model.generate(x, max_new_tokens=2, sampler="top_k(3)", seed=3))
    assert len(calls) == 1  # traced once; the second call reuses the compiled function
    assert first.shape == again.shape == (3, 2)


def test_generate_bad_inputs(model):
    x = _prompts()
    with pytest.raises(ValueError, match="Unknown sampler 'best'"):
        model.generate(x, sampler="best")
    with pytest.raises(ValueError, match=r"images must be \(batch, 32, 32, 3\).*got shape \(3, 16, 16, 3\)"):
        model.generate({**x, "images": x["images"][:, :16, :16]}, max_new_tokens=2)
    with pytest.raises(ValueError, match=r"mask_ar has shape \(3, 4\) but tokens have shape \(3, 5\)"):
        model.generate({**x, "mask_ar": x["mask_ar"][:, :4]}, max_new_tokens=2)
