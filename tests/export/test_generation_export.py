"""Generation SavedModel (PaliGemma, PaLI): images + prompts -> texts, served by a TF-only process as Keras answers."""

import json

import keras
import numpy as np
import pytest
import sentencepiece
import tensorflow as tf

import export_helpers as H
from keras_vision import export as kv_export
from keras_vision.data import get_preprocess_fn
from keras_vision.data.sentencepiece_trainer import train_sentencepiece
from keras_vision.export.generation_exporter import PromptTokenizer
from keras_vision.models.pali import PaLIBackbone
from keras_vision.models.pali import PaLISeq2SeqLM
from keras_vision.models.pali import PaliGemmaBackbone
from keras_vision.models.pali import PaliGemmaCausalLM
from keras_vision.testing import randomize_weights

pytestmark = pytest.mark.multibackend

PP = "decode|resize(32)|value_range(-1, 1)"
PROMPT_LENGTH, MAX_NEW_TOKENS = 12, 8
EOS, PAD = 1, 0
# Mixed lengths in one batch: short, empty, and one longer than PROMPT_LENGTH tokens (cut, as tolen).
PROMPTS = ["caption en", "", "answer en what colour is the big shape in the middle of the picture"]
SIGNATURES = ("serving_default", "generate", "generate_uint8", "tokenize_prompts", "model_generate")
CORPUS = ["a red circle", "a blue square", "caption en", "answer en what colour is it", "two shapes",
          "a green triangle on a white background", "the picture shows a square and a star"] * 20


@pytest.fixture(scope="module")
def spm_path(tmp_path_factory):
    """A tiny SentencePiece model with Gemma's special ids (pad 0, eos 1, bos 2, unk 3) and a "\\n" piece."""
    return train_sentencepiece(CORPUS, 64, tmp_path_factory.mktemp("spm") / "tiny", pad_id=0, eos_id=1, bos_id=2,
                               unk_id=3, hard_vocab_limit=False, user_defined_symbols=["\n"])


@pytest.fixture(scope="module")
def spm(spm_path):
    return sentencepiece.SentencePieceProcessor(model_file=str(spm_path))


def _encoded_images():
    imgs = H.images(seed=3, sizes=((41, 57), (32, 32), (20, 75)))
    return [H.encode(img, "JPEG" if i == 0 else "PNG") for i, img in enumerate(imgs)]


def _pp_images(encoded):
    """The eval pipeline's image pp (keras_vision.data), one image at a time."""
    fn = get_preprocess_fn(PP)
    return np.stack([fn({"image": tf.constant(b)})["image"].numpy() for b in encoded]).astype(np.float32)


def _paligemma_prompts(spm_path, prompts):
    """big_vision's PaliGemma eval text (transfers/common.py combine_and_keep_eval) via the pp ops."""
    m = str(spm_path)
    pp = "|".join([
        f"tok(key='prefix', bos='yes', model='{m}')",
        rf"tok(key='septok', text='\n', model='{m}')",
        "setdefault('suffix', '')",
        f"tok(key='suffix', eos='no', model='{m}')",
        "masked_concat(['prefix', 'septok', 'suffix'], outkey='text', mask_ar=[0, 0, 1], mask_input=[1, 1, 1])",
        f"tolen({PROMPT_LENGTH}, pad_value=0, key='text')",
        f"tolen({PROMPT_LENGTH}, pad_value=1, key='mask_ar')",
        f"tolen({PROMPT_LENGTH}, pad_value=0, key='mask_input')",
    ])
    fn = get_preprocess_fn(pp)
    rows = [fn({"prefix": tf.constant(p)}) for p in prompts]
    return {"tokens": np.stack([r["text"].numpy() for r in rows]).astype(np.int32),
            "mask_ar": np.stack([r["mask_ar"].numpy() for r in rows]).astype(np.int32),
            "mask_input": np.stack([r["mask_input"].numpy() for r in rows]).astype(np.int32)}


def _detokenize(spm, ids):
    """big_vision `to_str(stop_at_eos=True)` with the Python SentencePiece library."""
    out = []
    for row in np.asarray(ids).tolist():
        row = row[: row.index(EOS)] if EOS in row else row
        out.append(spm.decode([t for t in row if t < spm.get_piece_size()]).encode())
    return np.array(out, dtype=object)


def _generate(model, images, text, sampler="greedy"):
    ids = model.generate({"images": images, **text}, max_new_tokens=MAX_NEW_TOKENS, sampler=sampler,
                         stop_token_ids=(EOS,), pad_token_id=PAD)
    return np.asarray(keras.ops.convert_to_numpy(ids), np.int32)


@pytest.fixture(scope="module")
def paligemma(spm, spm_path):
    """A tiny random PaliGemma whose answers to PROMPTS include rows that stop at EOS and rows that do not."""
    images, text = _pp_images(_encoded_images()), _paligemma_prompts(spm_path, PROMPTS)
    for seed in (5, *range(1, 20)):  # 5 is known to work: the search only runs if the model changes
        backbone = PaliGemmaBackbone(
            vocabulary_size=spm.get_piece_size(), image_shape=(32, 32, 3), vit_patch_size=8, vit_hidden_dim=32,
            vit_num_layers=1, vit_num_heads=2, hidden_dim=32, num_layers=1, num_heads=2, num_key_value_heads=1,
            head_dim=16, intermediate_dim=64)
        model = PaliGemmaCausalLM(randomize_weights(backbone, seed=seed, std=1.0))
        stopped = (_generate(model, images, text) == EOS).any(axis=1)
        if stopped.any() and not stopped.all():
            return model
    pytest.fail("No seed in range(20) gives a batch with both stopped and unstopped answers.")


@pytest.fixture(scope="module")
def paligemma_export(paligemma, spm_path, tmp_path_factory):
    path = tmp_path_factory.mktemp("export") / "paligemma" / "1"
    manifest = kv_export.export(paligemma, path, task="generation", pp=PP, tokenizer=str(spm_path),
                                prompt_length=PROMPT_LENGTH, max_new_tokens=MAX_NEW_TOKENS)
    return path, manifest


def test_manifest_records_signatures_settings_and_exact_parity(paligemma_export, spm):
    path, manifest = paligemma_export
    assert manifest["task"] == "generation"
    assert set(manifest["signatures"]) == set(SIGNATURES)
    sig = manifest["signatures"]["generate"]
    string_batch = {"dtype": "string", "shape": [-1]}
    assert sig["inputs"] == {"images": string_batch, "prompts": string_batch}
    assert sig["outputs"] == {"texts": string_batch, "token_ids": {"dtype": "int32", "shape": [-1, MAX_NEW_TOKENS]}}
    assert manifest["generation"] == {
        "model": "paligemma", "prompt_length": PROMPT_LENGTH, "max_new_tokens": MAX_NEW_TOKENS, "sampler": "greedy",
        "stop_token_ids": [EOS], "pad_token_id": PAD,
        "long_prompts": f"cut to {PROMPT_LENGTH} tokens (big_vision tolen)"}
    assert manifest["text"]["separator_ids"] == spm.encode("\n") and len(spm.encode("\n")) == 2
    assert manifest["text"]["add_bos"] is True and manifest["text"]["bos_id"] == 2
    for name, outputs in manifest["parity"].items():
        assert set(outputs.values()) == {"exact"}, (name, outputs)
    assert set(manifest["parity"]) == set(SIGNATURES)


def test_tf_only_process_answers_like_keras_generate(paligemma_export, paligemma, spm, spm_path, tmp_path):
    """The SavedModel in a process without jax, keras_hub, keras_vision or keras: texts and ids equal Keras'
    `generate` on the same prompts, tokenized by the pp ops and detokenized with the Python library."""
    path, _ = paligemma_export
    encoded = _encoded_images()
    images = _pp_images(encoded)
    text = _paligemma_prompts(spm_path, PROMPTS)
    ids = _generate(paligemma, images, text)
    texts = _detokenize(spm, ids)
    stopped = (ids == EOS).any(axis=1)
    assert stopped.any() and not stopped.all()
    assert text["mask_input"][1].sum() == 3 and text["mask_input"][2].all()  # empty: BOS + "\n"; long: cut
    same = np.stack(H.images(seed=5, sizes=((32, 32), (32, 32), (32, 32))))
    same_ids = _generate(paligemma, same.astype(np.float32) / 127.5 - 1, text)
    prompts = np.array([p.encode() for p in PROMPTS], dtype=object)
    inputs = {"generate/images": np.array(encoded, dtype=object), "generate/prompts": prompts,
              "generate_uint8/images": same, "generate_uint8/prompts": prompts,
              "tokenize_prompts/prompts": prompts}
    expected = {"generate/texts": texts, "generate/token_ids": ids,
                "generate_uint8/texts": _detokenize(spm, same_ids), "generate_uint8/token_ids": same_ids,
                **{f"tokenize_prompts/{k}": v for k, v in text.items()},
                "rest:generate/texts": texts, "rest:generate/token_ids": ids}
    np.savez(tmp_path / "inputs.npz", **inputs)
    np.savez(tmp_path / "expected.npz", **expected)
    body = kv_export.make_rest_request({"images": encoded, "prompts": PROMPTS}, signature_name="generate")
    (tmp_path / "rest.json").write_text(json.dumps(body))
    report = kv_export.run_tf_only_check(path, tmp_path / "inputs.npz", tmp_path / "expected.npz", no_keras=True,
                                         rest=[("generate", tmp_path / "rest.json")])
    assert report["returncode"] == 0 and report["ok"], report
    assert report["keras_imported"] is False and report["hidden_modules_imported"] == []
    assert report["parity"]["generate"] == {"texts": "exact", "token_ids": "exact"}
    assert report["parity"]["generate_uint8"] == {"texts": "exact", "token_ids": "exact"}
    assert set(report["parity"]["tokenize_prompts"].values()) == {"exact"}
    assert report["rest"]["generate"]["errors"] == {"texts": "exact", "token_ids": "exact"}
    assert set(report["signatures_available"]) == set(SIGNATURES)


def test_served_outputs_pad_after_eos_and_check_batch_sizes(paligemma_export):
    path, _ = paligemma_export
    served = tf.saved_model.load(str(path))
    out = served.signatures["serving_default"](images=tf.constant(_encoded_images()), prompts=tf.constant(PROMPTS))
    ids = out["token_ids"].numpy()
    for row in ids.tolist():
        if EOS in row:
            assert set(row[row.index(EOS) + 1:]) <= {PAD}
    with pytest.raises(tf.errors.InvalidArgumentError, match="generate: images and prompts must have the same batch"):
        served.signatures["generate"](images=tf.constant(_encoded_images()[:2]), prompts=tf.constant(PROMPTS))
    with pytest.raises(tf.errors.InvalidArgumentError, match="generate: these inputs .* not encoded images"):
        served.signatures["generate"](images=tf.constant([b"not an image"]), prompts=tf.constant(["caption en"]))


def test_detokenize_cuts_at_the_first_stop_id_and_drops_unknown_ids(spm, spm_path):
    tok = PromptTokenizer(str(spm_path), PROMPT_LENGTH)
    v = spm.get_piece_size()
    words = spm.encode("a red circle")
    x = next(i for i in range(4, v) if i not in words + [5, 6, 7, 8])  # a second stop id
    rows = [words + [EOS, 5, 6], [5, 6, 7, v + 3, 8, x, 0, 3], [EOS] + words + [5, 5], words + [x, x, 0, 0]]
    ids = np.array([r + [PAD] * (16 - len(r)) for r in rows], np.int32)
    got = tok.detokenize(tf.constant(ids), (EOS,)).numpy().tolist()
    assert got[0] == b"a red circle" and got[2] == b""
    assert got == _detokenize(spm, ids).tolist()  # unknown id v + 3 dropped, pad 0 and unk 3 decoded as the library
    two_stops = tok.detokenize(tf.constant(ids), (EOS, x)).numpy().tolist()
    assert two_stops[3] == b"a red circle" and two_stops[1] == spm.decode([5, 6, 7, 8]).encode()


def test_pali_exports_its_prompt_format(spm, spm_path, tmp_path):
    """PaLI: prompt + EOS, no BOS or separator; beam search from the TF backend (greedy from JAX)."""
    keras.utils.set_random_seed(1)
    backbone = randomize_weights(PaLIBackbone(
        vocabulary_size=spm.get_piece_size(), image_shape=(32, 32, 3), vit_patch_size=8, vit_hidden_dim=32,
        vit_num_layers=1, vit_num_heads=2, vit_intermediate_dim=64, hidden_dim=32, num_layers=1, num_heads=2,
        head_dim=16, intermediate_dim=64), seed=1, std=1.0)
    model = PaLISeq2SeqLM(backbone)
    sampler = "beam(2)" if keras.backend.backend() == "tensorflow" else "greedy"
    assert isinstance(kv_export.build_exporter(model, pp=PP, tokenizer=str(spm_path)), kv_export.GenerationExporter)
    manifest = kv_export.export(model, tmp_path / "pali", pp=PP, tokenizer=str(spm_path), sampler=sampler,
                                prompt_length=PROMPT_LENGTH, max_new_tokens=MAX_NEW_TOKENS, verify=False)
    assert manifest["task"] == "generation" and manifest["generation"]["model"] == "pali"
    assert manifest["generation"]["sampler"] == sampler
    served = tf.saved_model.load(str(tmp_path / "pali"))
    encoded = _encoded_images()
    out = served.signatures["generate"](images=tf.constant(encoded), prompts=tf.constant(PROMPTS))
    fn = get_preprocess_fn(f"tok(key='prompt', eos='yes', length={PROMPT_LENGTH}, model='{spm_path}')")
    tokens = np.stack([fn({"prompt": tf.constant(p)})["prompt"].numpy() for p in PROMPTS]).astype(np.int32)
    lengths = np.minimum([len(spm.encode(p)) + 1 for p in PROMPTS], PROMPT_LENGTH)  # + EOS, cut as tolen
    text = {"encoder_tokens": tokens, "encoder_mask": (np.arange(PROMPT_LENGTH) < lengths[:, None]).astype(np.int32)}
    assert tokens[1].tolist()[:2] == [EOS, PAD] and tokens[2, -1] != EOS  # empty: EOS only; long: cut
    ids = _generate(model, _pp_images(encoded), text, sampler=sampler)
    np.testing.assert_array_equal(out["token_ids"].numpy(), ids)
    assert out["texts"].numpy().tolist() == _detokenize(spm, ids).tolist()


def test_default_task_and_errors(paligemma, spm_path):
    exporter = kv_export.build_exporter(paligemma, pp=PP, tokenizer=str(spm_path), max_new_tokens=4)
    assert isinstance(exporter, kv_export.GenerationExporter) and exporter.max_new_tokens == 4
    assert exporter.prompt_length == 32 and exporter.image_size == (32, 32)
    with pytest.raises(kv_export.ExportError, match="draws random numbers"):
        kv_export.GenerationExporter(paligemma, pp=PP, tokenizer=spm_path, sampler="nucleus(0.9)")
    with pytest.raises(kv_export.ExportError, match="Unknown sampler"):
        kv_export.GenerationExporter(paligemma, pp=PP, tokenizer=spm_path, sampler="typo")
    if keras.backend.backend() == "jax":
        with pytest.raises(kv_export.ExportError, match="beam search does not export from the JAX backend"):
            kv_export.GenerationExporter(paligemma, pp=PP, tokenizer=spm_path, sampler="beam(2)")
    with pytest.raises(kv_export.ExportError, match="needs tokenizer="):
        kv_export.GenerationExporter(paligemma, pp=PP, tokenizer=None)
    with pytest.raises(kv_export.ExportError, match="prompt_length must be a positive int, got 0"):
        kv_export.GenerationExporter(paligemma, pp=PP, tokenizer=spm_path, prompt_length=0)
    with pytest.raises(kv_export.ExportError, match="pad_token_id 1 cannot also be a stop token"):
        kv_export.GenerationExporter(paligemma, pp=PP, tokenizer=spm_path, pad_token_id=1)
    with pytest.raises(kv_export.ExportError, match="cannot be exported for generation"):
        kv_export.GenerationExporter(H.classifier(), pp=PP, tokenizer=spm_path)
    small = PaliGemmaCausalLM(PaliGemmaBackbone(
        vocabulary_size=16, image_shape=(32, 32, 3), vit_patch_size=8, vit_hidden_dim=32, vit_num_layers=1,
        vit_num_heads=2, hidden_dim=32, num_layers=1, num_heads=2, num_key_value_heads=1, head_dim=16,
        intermediate_dim=64))
    with pytest.raises(kv_export.ExportError, match=r"tokenizer has \d+ pieces but the model's vocabulary is 16"):
        kv_export.GenerationExporter(small, pp=PP, tokenizer=spm_path)
