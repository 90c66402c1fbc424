"""Classifier SavedModel: signatures, parity with Keras, serving in a TF-only process, bad inputs."""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import export_helpers as H
from keras_vision import export as kv_export

pytestmark = pytest.mark.multibackend

SIGNATURES = ("serving_default", "predict_images", "predict_images_float", "model_logits")


@pytest.fixture(scope="module")
def served(classifier_export):
    return tf.saved_model.load(str(classifier_export[2]))


def _softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_manifest_describes_signatures_parity_and_size(classifier_export):
    model, _, path, manifest = classifier_export
    assert set(manifest["signatures"]) == set(SIGNATURES)
    assert manifest == kv_export.read_manifest(path)
    sd = manifest["signatures"]["serving_default"]
    assert sd["inputs"] == {"images": {"dtype": "string", "shape": [-1]}}
    assert sd["outputs"]["top_k_class_names"] == {"dtype": "string", "shape": [-1, 3]}
    assert manifest["signatures"]["predict_images"]["inputs"]["images"]["dtype"] == "uint8"
    assert manifest["signatures"]["model_logits"]["inputs"]["images"]["shape"] == [-1, 32, 32, 3]
    assert manifest["preprocessing"]["serving_pp"] == "resize(32)|value_range(-1, 1)"
    assert manifest["preprocessing"]["dropped_ops"] == ["onehot(4)", "keep('image', 'labels')"]
    assert manifest["preprocessing"]["implementation"] == "keras_vision.data"
    assert manifest["class_names"] == H.CLASS_NAMES and manifest["top_k"] == 3
    import keras

    assert manifest["backend"] == keras.backend.backend()
    assert manifest["parameter_count"] == model.count_params()
    files = [p for p in pathlib.Path(path).rglob("*") if p.is_file() and p.name != "manifest.json"]
    assert manifest["size_bytes"] == sum(p.stat().st_size for p in files)
    assert set(manifest["parity"]) == set(SIGNATURES)
    for sig, outputs in manifest["parity"].items():
        for name, err in outputs.items():
            assert err == "exact" or err <= 1e-5, (sig, name, err)


def test_serving_default_matches_the_eval_pipeline(classifier_export, served):
    model = classifier_export[0]
    imgs = H.images(seed=3)
    encoded = [H.encode(imgs[0], "JPEG"), H.encode(imgs[1], "PNG"), H.encode(imgs[2], "GIF"),
               H.encode(imgs[0], "BMP"), H.encode(imgs[2], "WEBP")]
    out = served.signatures["serving_default"](images=tf.constant(encoded))
    want = H.keras_reference_logits(model, encoded)
    np.testing.assert_allclose(out["logits"].numpy(), want, atol=1e-5)
    np.testing.assert_allclose(out["probabilities"].numpy(), _softmax(want), atol=1e-5)
    top = np.argsort(-want, axis=-1)[:, :3]
    np.testing.assert_array_equal(out["top_k_indices"].numpy(), top)
    names = np.array(H.CLASS_NAMES)[top]
    assert out["top_k_class_names"].numpy().astype(str).tolist() == names.tolist()
    np.testing.assert_allclose(out["top_k_probabilities"].numpy(),
                               np.take_along_axis(_softmax(want), top, -1), atol=1e-6)


def test_uint8_float_and_bytes_paths_agree(served):
    img = H.images(seed=5, sizes=((47, 39),))[0]
    by_bytes = served.signatures["serving_default"](images=tf.constant([H.encode(img, "PNG")]))["logits"]
    batch = np.stack([img, img[::-1]])
    by_u8 = served.signatures["predict_images"](images=tf.constant(batch))["logits"].numpy()
    np.testing.assert_allclose(by_u8[0], by_bytes.numpy()[0], atol=1e-6)
    # At the model's size the resize is the identity, so [-1, 1] floats give the uint8 result.
    same = np.stack(H.images(seed=6, sizes=((32, 32), (32, 32))))
    u8 = served.signatures["predict_images"](images=tf.constant(same))["logits"].numpy()
    fl = served.signatures["predict_images_float"](images=tf.constant(same.astype(np.float32) / 127.5 - 1))
    np.testing.assert_allclose(fl["logits"].numpy(), u8, atol=1e-5)
    raw = served.signatures["model_logits"](images=tf.constant(same.astype(np.float32) / 127.5 - 1))
    np.testing.assert_allclose(raw["logits"].numpy(), u8, atol=1e-5)


def test_batch_dimension_is_free(served):
    for n in (1, 5):
        out = served.signatures["predict_images"](images=tf.zeros((n, 50, 60, 3), tf.uint8))
        assert out["probabilities"].shape == (n, 4)
        assert out["top_k_class_names"].shape == (n, 3)


def test_saved_model_cli_lists_the_signatures(classifier_export):
    cli = pathlib.Path(sys.executable).with_name("saved_model_cli")
    proc = subprocess.run([str(cli), "show", "--all", "--dir", str(classifier_export[2])],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    for sig in SIGNATURES:
        assert f"signature_def['{sig}']" in out
    assert "tensorflow/serving/predict" in out
    assert "dtype: DT_STRING" in out and "dtype: DT_UINT8" in out
    assert "outputs['top_k_class_names']" in out


def test_serves_in_a_tensorflow_only_process(classifier_export, tmp_path, monkeypatch):
    """A separate `python -I` process that cannot import jax, keras_hub or keras_vision loads the
    SavedModel, runs every signature and two TF Serving REST bodies, and matches Keras.
    Paths are given relative to the working directory, as `make demo` gives them."""
    model, exporter, path, _ = classifier_export
    monkeypatch.chdir(tmp_path)
    path = os.path.relpath(path)
    inputs, expected = kv_export.write_parity_bundle(exporter, tmp_path)
    imgs = H.images(seed=7)
    encoded = [H.encode(imgs[0], "JPEG"), H.encode(imgs[2], "PNG")]
    body = kv_export.make_rest_request({"images": encoded})
    assert body["instances"][0].keys() == {"b64"}
    (tmp_path / "rest_default.json").write_text(json.dumps(body))
    same = np.stack(H.images(seed=8, sizes=((36, 30), (36, 30))))
    body_u8 = kv_export.make_rest_request({"images": same}, signature_name="predict_images")
    (tmp_path / "rest_u8.json").write_text(json.dumps(body_u8))
    logits = H.keras_reference_logits(model, encoded)
    u8_logits = exporter.reference("predict_images", {"images": same})["logits"]
    bundle = dict(np.load(expected, allow_pickle=True))
    bundle["rest:serving_default/logits"] = logits
    bundle["rest:serving_default/top_k_class_names"] = np.array(H.CLASS_NAMES, dtype=object)[
        np.argsort(-logits, -1)[:, :3]]
    bundle["rest:predict_images/logits"] = u8_logits
    np.savez(expected, **bundle)
    report = kv_export.run_tf_only_check(
        path, os.path.relpath(inputs), os.path.relpath(expected),
        rest=[("serving_default", "rest_default.json"), ("predict_images", "rest_u8.json")])
    assert report["returncode"] == 0 and report["ok"], report
    assert report["hidden_modules_imported"] == []
    assert set(report["parity"]) == set(SIGNATURES)
    for sig, errs in report["parity"].items():
        assert errs and all(e == "exact" or e <= 1e-5 for e in errs.values()), (sig, errs)
    rows = report["rest"]["serving_default"]["response"]["predictions"]
    assert len(rows) == 2 and rows[0]["top_k_class_names"][0] in H.CLASS_NAMES
    assert report["rest"]["predict_images"]["errors"]["logits"] <= 1e-5


# --- bad inputs at serve time ------------------------------------------------------------
def test_bytes_that_are_not_images_name_their_positions(served):
    good = H.encode(H.images()[1], "PNG")
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"not encoded images.*\] \[1 3\]"):
        served.signatures["serving_default"](images=tf.constant([good, b"hello world", good, b""]))


def test_wrong_dtype_is_rejected(served):
    with pytest.raises((TypeError, tf.errors.InvalidArgumentError, ValueError), match="uint8"):
        served.signatures["predict_images"](images=tf.zeros((1, 32, 32, 3), tf.float32))
    with pytest.raises((TypeError, tf.errors.InvalidArgumentError, ValueError), match="string"):
        served.signatures["serving_default"](images=tf.zeros((1,), tf.int32))


@pytest.mark.parametrize("shape", [(32, 32, 3), (1, 32, 32, 4), (2, 32, 32, 1), (1, 1, 32, 32, 3)])
def test_wrong_rank_or_channels_get_a_clear_message(served, shape):
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"predict_images: images must be a 4-D uint8 batch"):
        served.signatures["predict_images"](images=tf.zeros(shape, tf.uint8))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"predict_images_float: images must be a 4-D float32"):
        served.signatures["predict_images_float"](images=tf.zeros(shape, tf.float32))


# --- bad export requests ------------------------------------------------------------------
def test_export_errors_name_the_problem(tmp_path):
    model = H.classifier()
    with pytest.raises(kv_export.ExportError, match="Got 2 class names for a model with 4 classes"):
        kv_export.ClassifierExporter(model, pp=H.PP, class_names=["a", "b"])
    with pytest.raises(kv_export.ExportError, match="flip_lr.*random training augmentation"):
        kv_export.ClassifierExporter(model, pp="decode|flip_lr|resize(32)|value_range(-1, 1)")
    with pytest.raises(kv_export.ExportError, match=r"into shape \(16, 16, 3\).*takes 32x32x3"):
        kv_export.ClassifierExporter(model, pp="decode|resize(16)|value_range(-1, 1)")
    with pytest.raises(kv_export.ExportError, match="Unknown pp op 'sharpen'.*resize_small"):
        kv_export.ClassifierExporter(model, pp="decode|sharpen(2)|resize(32)")
    with pytest.raises(kv_export.ExportError, match="Unknown platform.*'gpu'"):
        kv_export.ClassifierExporter(model, pp=H.PP, platforms=("cpu", "gpu"))
    with pytest.raises(kv_export.ExportError, match="Unknown activation"):
        kv_export.ClassifierExporter(model, pp=H.PP, activation="relu")
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "f").write_text("keep me")
    with pytest.raises(FileExistsError, match="not empty"):
        kv_export.export_classifier(model, tmp_path / "x", pp=H.PP)
    with pytest.raises(FileExistsError, match="holds no saved_model.pb"):
        kv_export.export_classifier(model, tmp_path / "x", pp=H.PP, overwrite=True)
    assert (tmp_path / "x" / "f").read_text() == "keep me"


def test_jax_export_for_several_platforms(tmp_path):
    import keras

    if keras.backend.backend() != "jax":
        pytest.skip("native serialization platforms are a JAX export setting")
    model = H.classifier(num_classes=2)
    manifest = kv_export.export_classifier(model, tmp_path / "m", pp=H.PP, class_names=["a", "b"],
                                           platforms=("cpu", "cuda", "tpu"))
    assert manifest["platforms"] == ["cpu", "cuda", "tpu"]
    graph = (tmp_path / "m" / "saved_model.pb").read_bytes()
    assert b"XlaCallModule" in graph and b"CUDA" in graph and b"TPU" in graph
    assert max(v for o in manifest["parity"].values() for v in o.values() if isinstance(v, float)) <= 1e-5


def test_export_from_a_keras_file(tmp_path):
    model = H.classifier(num_classes=2)
    model.save(tmp_path / "m.keras")
    manifest = kv_export.export(tmp_path / "m.keras", tmp_path / "out", pp=H.PP, class_names=["yes", "no"],
                                verify=False)
    assert manifest["source"] == {"type": "keras_file", "path": str(tmp_path / "m.keras")}
    assert "parity" not in manifest and manifest["class_names"] == ["yes", "no"]
    served = tf.saved_model.load(str(tmp_path / "out"))
    x = np.stack(H.images(seed=1, sizes=((32, 32),)))
    import keras

    want = keras.ops.convert_to_numpy(model(x.astype(np.float32) / 127.5 - 1))
    np.testing.assert_allclose(served.signatures["predict_images"](images=tf.constant(x))["logits"].numpy(), want,
                               atol=1e-5)
    again = kv_export.export(model, tmp_path / "out", pp=H.PP, verify=False, overwrite=True)
    assert again["class_names"] == ["0", "1"]
