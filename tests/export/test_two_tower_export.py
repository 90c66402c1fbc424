"""Two-tower SavedModel: embeddings, in-graph SentencePiece, zero-shot, TF-only serving, bad inputs."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

import export_helpers as H
from keras_vision import export as kv_export

pytestmark = pytest.mark.multibackend

SIGNATURES = ("serving_default", "embed_images", "embed_images_uint8", "embed_texts", "zero_shot",
              "model_encode_images", "model_encode_texts")
TEXTS = ["a red circle", "A Photo Of A Small Yellow Star On A White Background Again", "", "two shapes"]


@pytest.fixture(scope="module")
def served(two_tower_export):
    return tf.saved_model.load(str(two_tower_export[2]))


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _reference_ids(spm_bytes, texts, max_len, pad_value, eos_id=3):
    """big_vision `tokenize(eos="sticky", lower=True)` with the Python SentencePiece library."""
    import sentencepiece

    sp = sentencepiece.SentencePieceProcessor(model_proto=spm_bytes)
    rows = []
    for t in texts:
        ids = sp.encode(t.lower()) + [eos_id]
        ids = ids[: max_len - 1] + [ids[-1]] if len(ids) >= max_len else ids + [pad_value] * (max_len - len(ids))
        rows.append(ids)
    return np.array(rows, np.int32)


def test_manifest_and_parity(two_tower_export):
    _, _, path, manifest = two_tower_export
    assert set(manifest["signatures"]) == set(SIGNATURES)
    assert manifest["signatures"]["zero_shot"]["inputs"] == {
        "images": {"dtype": "string", "shape": [-1]}, "class_names": {"dtype": "string", "shape": [-1]}}
    assert manifest["signatures"]["embed_texts"]["outputs"]["token_ids"] == {"dtype": "int32", "shape": [-1, 8]}
    assert manifest["text"]["max_len"] == 8 and manifest["text"]["eos"] == "sticky"
    assert manifest["text"]["pad_value"] == 3
    assert manifest["activation"] == "sigmoid" and manifest["bias"] == pytest.approx(-2.0)
    assert manifest["temperature"] == pytest.approx(10.0, rel=1e-6)
    for sig, outputs in manifest["parity"].items():
        for name, err in outputs.items():
            assert err == "exact" or err <= 1e-5, (sig, name, err)
    assert manifest == kv_export.read_manifest(path)


def test_embed_texts_tokenizes_like_big_vision_and_the_training_pipeline(two_tower_export, served, spm_model):
    model = two_tower_export[0]
    out = served.signatures["embed_texts"](texts=tf.constant(TEXTS))
    want = _reference_ids(spm_model.read_bytes(), TEXTS, H.MAX_LEN, pad_value=3)
    np.testing.assert_array_equal(out["token_ids"].numpy(), want)
    assert (want[1, -1] == 3) and len(set(want[1])) > 2  # the long text is cut and keeps its EOS
    from keras_vision.data import get_preprocess_fn

    fn = get_preprocess_fn(f"tokenize(max_len={H.MAX_LEN}, eos='sticky', model='{spm_model}', pad_value=3, "
                           "inkey='text', outkey='labels')")
    train_ids = np.stack([fn({"text": tf.constant(t)})["labels"].numpy() for t in TEXTS])
    np.testing.assert_array_equal(out["token_ids"].numpy(), train_ids)
    np.testing.assert_allclose(out["embeddings"].numpy(), _np(model.encode_text(want)), atol=1e-5)


def test_embed_images_bytes_and_uint8(two_tower_export, served):
    model = two_tower_export[0]
    imgs = H.images(seed=2, sizes=((32, 32), (32, 32)))
    z = served.signatures["embed_images"](images=tf.constant([H.encode(i, "PNG") for i in imgs]))["embeddings"]
    want = _np(model.encode_image(np.stack(imgs).astype(np.float32) / 127.5 - 1))
    np.testing.assert_allclose(z.numpy(), want, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(z.numpy(), axis=-1), 1.0, atol=1e-5)
    z8 = served.signatures["embed_images_uint8"](images=tf.constant(np.stack(imgs)))["embeddings"]
    np.testing.assert_allclose(z8.numpy(), z.numpy(), atol=1e-6)


def test_zero_shot_matches_keras(two_tower_export, served, spm_model):
    model = two_tower_export[0]
    imgs = H.images(seed=4, sizes=((32, 32), (32, 32), (32, 32)))
    classes = ["circle", "square", "small green triangle"]
    out = served.signatures["zero_shot"](images=tf.constant([H.encode(i, "PNG") for i in imgs]),
                                         class_names=tf.constant(classes))
    zimg = _np(model.encode_image(np.stack(imgs).astype(np.float32) / 127.5 - 1)).astype(np.float64)
    prompts = [t.format(c) for t in ("a {}", "a photo of a {}.") for c in classes]
    ztxt = _np(model.encode_text(_reference_ids(spm_model.read_bytes(), prompts, H.MAX_LEN, 3))).astype(np.float64)
    ztxt = ztxt.reshape(2, 3, -1).mean(0)
    ztxt /= np.linalg.norm(ztxt, axis=-1, keepdims=True)
    logits = zimg @ ztxt.T * np.exp(_np(model.t)[0]) + _np(model.b)[0]
    np.testing.assert_allclose(out["logits"].numpy(), logits, atol=1e-4)
    np.testing.assert_allclose(out["probabilities"].numpy(), 1 / (1 + np.exp(-logits)), atol=1e-5)
    top = np.argsort(-logits, -1)[:, :2]
    np.testing.assert_array_equal(out["top_k_indices"].numpy(), top)
    assert out["top_k_class_names"].numpy().astype(str).tolist() == np.array(classes)[top].tolist()
    one = served.signatures["zero_shot"](images=tf.constant([H.encode(imgs[0], "PNG")]),
                                         class_names=tf.constant(["circle"]))
    assert one["top_k_indices"].shape == (1, 1)  # k is min(top_k, number of classes)


def test_serving_default_is_zero_shot_over_the_export_classes(served):
    encoded = tf.constant([H.encode(i, "JPEG") for i in H.images(seed=9)])
    default = served.signatures["serving_default"](images=encoded)
    zs = served.signatures["zero_shot"](images=encoded, class_names=tf.constant(H.CLASS_NAMES))
    for key in ("logits", "probabilities"):
        np.testing.assert_allclose(default[key].numpy(), zs[key].numpy(), atol=1e-6)
    assert default["top_k_class_names"].numpy().tolist() == zs["top_k_class_names"].numpy().tolist()


def test_serves_without_keras_at_all(two_tower_export, tmp_path):
    """TF-only process with keras hidden too: the SentencePiece op comes from tensorflow_text's
    op library (as TF Serving links it); a columnar REST body drives zero_shot."""
    _, exporter, path, _ = two_tower_export
    inputs, expected = kv_export.write_parity_bundle(exporter, tmp_path)
    encoded = [H.encode(i, "PNG") for i in H.images(seed=11, sizes=((32, 32), (40, 40)))]
    body = kv_export.make_rest_request({"images": encoded, "class_names": [b"circle", b"star", b"square"]},
                                       signature_name="zero_shot", format="inputs")
    (tmp_path / "zs.json").write_text(json.dumps(body))
    body_txt = kv_export.make_rest_request({"texts": TEXTS}, signature_name="embed_texts")
    (tmp_path / "txt.json").write_text(json.dumps(body_txt))
    ref = exporter.reference("zero_shot", {"images": np.array(encoded, dtype=object),
                                           "class_names": np.array([b"circle", b"star", b"square"], dtype=object)})
    ref_txt = exporter.reference("embed_texts", {"texts": np.array([t.encode() for t in TEXTS], dtype=object)})
    bundle = dict(np.load(expected, allow_pickle=True))
    bundle["rest:zero_shot/probabilities"] = ref["probabilities"]
    bundle["rest:zero_shot/top_k_class_names"] = ref["top_k_class_names"]
    bundle["rest:embed_texts/embeddings"] = ref_txt["embeddings"]
    bundle["rest:embed_texts/token_ids"] = ref_txt["token_ids"]
    np.savez(expected, **bundle)
    rest = [("zero_shot", tmp_path / "zs.json"), ("embed_texts", tmp_path / "txt.json")]
    report = kv_export.run_tf_only_check(path, inputs, expected, no_keras=True, rest=rest)
    assert report["returncode"] == 0 and report["ok"], report
    assert report["keras_imported"] is False and report["hidden_modules_imported"] == []
    assert report["text_ops"].startswith("tf.load_op_library")
    assert set(report["parity"]) == set(SIGNATURES)
    assert report["rest"]["zero_shot"]["errors"]["probabilities"] <= 1e-5
    assert report["rest"]["embed_texts"]["errors"]["token_ids"] == "exact"


# --- bad inputs ---------------------------------------------------------------------------
def test_zero_shot_needs_class_names(served):
    png = H.encode(H.images()[1], "PNG")
    with pytest.raises(tf.errors.InvalidArgumentError, match="zero_shot: class_names must hold at least one"):
        served.signatures["zero_shot"](images=tf.constant([png]), class_names=tf.constant([], tf.string))
    with pytest.raises(tf.errors.InvalidArgumentError, match="embed_images: these inputs .* not encoded images"):
        served.signatures["embed_images"](images=tf.constant([b"GIF", png]))
    with pytest.raises((TypeError, tf.errors.InvalidArgumentError, ValueError), match="string"):
        served.signatures["embed_texts"](texts=tf.constant([1, 2]))


def test_export_errors(spm_model):
    model = H.two_tower()
    pp = "resize(32)|value_range(-1, 1)"
    with pytest.raises(kv_export.ExportError, match="max_len is 12 but the text tower takes sequences of 8"):
        kv_export.TwoTowerExporter(model, pp=pp, tokenizer=spm_model, text_kwargs=dict(max_len=12))
    with pytest.raises(kv_export.ExportError, match="needs tokenizer="):
        kv_export.TwoTowerExporter(model, pp=pp, tokenizer=None)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        kv_export.TwoTowerExporter(model, pp=pp, tokenizer="/no/such.model")
    with pytest.raises(kv_export.ExportError, match="exactly one"):
        kv_export.TwoTowerExporter(model, pp=pp, tokenizer=spm_model, prompt_templates=("a photo",))
    with pytest.raises(kv_export.ExportError, match="has no encode_image"):
        kv_export.TwoTowerExporter(H.classifier(), pp=pp, tokenizer=spm_model)
    small = H.TinyTwoTower(vocab_size=16)
    small({"image": np.zeros((1, 32, 32, 3), "float32"), "labels": np.zeros((1, H.MAX_LEN), "int32")})
    with pytest.raises(kv_export.ExportError, match=r"tokenizer has \d+ pieces but the text tower's vocabulary is 16"):
        kv_export.TwoTowerExporter(small, pp=pp, tokenizer=spm_model)


def test_export_entry_point_picks_the_task_and_reads_text_pp(spm_model, tmp_path):
    model = H.two_tower()
    exporter = kv_export.build_exporter(
        model, pp="decode|resize(32)|value_range(-1, 1)",
        text_pp=f"tokenize(max_len=8, eos='yes', model='{spm_model}', pad_value=0)")
    assert isinstance(exporter, kv_export.TwoTowerExporter)
    assert exporter.tokenizer.config()["eos"] == "yes" and exporter.tokenizer.pad_value == 0
    assert exporter.class_names is None and exporter.activation == "sigmoid"
    assert isinstance(kv_export.build_exporter(H.classifier(), pp=H.PP), kv_export.ClassifierExporter)
    with pytest.raises(kv_export.ExportError, match="No eval pp"):
        kv_export.build_exporter(H.classifier())
    with pytest.raises(kv_export.ExportError, match="Cannot export: Cannot load a model from 'no_such_preset_name'.*training workdir"):
        kv_export.export("no_such_preset_name", tmp_path / "out")
