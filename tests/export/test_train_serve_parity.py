"""Train/serve parity: the training pipeline and the SavedModel give identical pixels and token ids.

The same image files and captions go through `keras_vision.data.make_pipeline` on the
recipe-style eval pp, and through an export built from that same pp string: the served
graph must reproduce the pipeline's token ids and model inputs bit for bit, also in a
process where only TensorFlow and tensorflow_text can be imported.
"""

import contextlib
import json

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

import export_helpers as H
from keras_vision import export as kv_export
from keras_vision.data import get_preprocess_fn
from keras_vision.data import make_pipeline

pytestmark = pytest.mark.multibackend

IMAGE_PP = "decode|resize_small(40)|central_crop(32)|value_range(-1, 1)"
CAPTIONS = ["a red circle", "A Photo Of A Small Yellow Star On A White Background, Cut Short", "", "two shapes",
            "ünïcödé square"]
SIZES = ((41, 57), (32, 32), (75, 20), (50, 50), (33, 90))


@contextlib.contextmanager
def _no_graph_rewrites():
    before = tf.config.optimizer.get_experimental_options()
    tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})
    try:
        yield
    finally:
        tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": False, **before})


def _eval_pp(spm_model):
    tokenize = f"tokenize(max_len={H.MAX_LEN}, model='{spm_model}', eos='sticky', pad_value=3, inkey='texts')"
    return f"{IMAGE_PP}|{tokenize}|keep('image', 'labels')"


@pytest.fixture(scope="module")
def world(tmp_path_factory, spm_model):
    """Image files (JPEG and PNG) + a captions file, the pipeline's batch and an export of the same pp."""
    root = tmp_path_factory.mktemp("parity")
    encoded, rows = [], []
    for i, (img, caption) in enumerate(zip(H.images(seed=5, sizes=SIZES), CAPTIONS)):
        fmt = "JPEG" if i % 2 == 0 else "PNG"
        data = H.encode(img, fmt)
        (root / f"img{i}.{fmt.lower()}").write_bytes(data)
        encoded.append(data)
        rows.append({"image": f"img{i}.{fmt.lower()}", "caption": caption})
    (root / "captions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    pp = _eval_pp(spm_model)
    ds = make_pipeline({"name": "image_text_jsonl", "path": str(root / "captions.jsonl")}, pp,
                       batch_size=len(rows), train=False)
    batch = {k: v.numpy() for k, v in next(iter(ds)).items()}
    # Everything from the eval pp: image ops, SentencePiece model and tokenize settings.
    exporter = kv_export.build_exporter(H.two_tower(), pp=pp, text_pp=pp)
    path = root / "export" / "1"
    manifest = exporter.export(path)
    return {"encoded": encoded, "batch": batch, "exporter": exporter, "path": path, "manifest": manifest,
            "served": tf.saved_model.load(str(path)), "pp": pp}


def test_the_export_takes_its_settings_from_the_eval_pp(world):
    manifest = world["manifest"]
    assert manifest["preprocessing"]["serving_pp"] == "resize_small(40)|central_crop(32)|value_range(-1, 1)"
    assert manifest["preprocessing"]["decode"] == "decode"
    assert manifest["text"]["max_len"] == H.MAX_LEN and manifest["text"]["eos"] == "sticky"
    assert manifest["text"]["pad_value"] == 3 and manifest["text"]["lower"] is True


def test_served_token_ids_are_the_training_pipeline_ids(world):
    want = world["batch"]["labels"]
    assert want.shape == (len(CAPTIONS), H.MAX_LEN) and want.dtype == np.int32
    assert want[1, -1] == 3 and (want[1, :-1] != 3).all()  # the long caption is cut and keeps its EOS
    served = world["served"].signatures["embed_texts"](texts=tf.constant(CAPTIONS))["token_ids"].numpy()
    np.testing.assert_array_equal(served, want)
    # The exporter's tokenizer module (what the graph was traced from) gives the same ids eagerly.
    np.testing.assert_array_equal(world["exporter"].tokenizer(tf.constant(CAPTIONS)).numpy(), want)


def test_served_pixels_are_the_training_pipeline_pixels(world):
    want = world["batch"]["image"]
    assert want.shape == (len(SIZES), 32, 32, 3) and want.dtype == np.float32
    # The serving preprocessor (the functions traced into the signatures) on the encoded bytes ...
    prep = world["exporter"].preprocessor
    np.testing.assert_array_equal(prep.from_bytes(tf.constant(world["encoded"]), "sig").numpy(), want)
    # ... and on decoded uint8 images, as the eval pp sees them after `decode`.
    decode = get_preprocess_fn("decode")
    for data, row in zip(world["encoded"], want):
        image = decode({"image": tf.constant(data)})["image"]
        np.testing.assert_array_equal(prep.from_uint8(image[None], "sig")[0].numpy(), row)
    # In the export: bytes through the in-graph pp give exactly the embeddings of the pipeline's
    # pixels once TF's graph rewrites are off (grappler may reassociate value_range's float
    # arithmetic, ~1e-7; the ops and their order are the same, as this shows).
    with _no_graph_rewrites():
        signatures = tf.saved_model.load(str(world["path"])).signatures
        from_bytes = signatures["embed_images"](images=tf.constant(world["encoded"]))["embeddings"].numpy()
        from_pixels = signatures["model_encode_images"](images=tf.constant(want))["embeddings"].numpy()
    np.testing.assert_array_equal(from_bytes, from_pixels)
    signatures = world["served"].signatures
    from_bytes = signatures["embed_images"](images=tf.constant(world["encoded"]))["embeddings"].numpy()
    np.testing.assert_allclose(from_bytes, from_pixels, atol=1e-5)


def test_the_graph_needs_only_tensorflow_and_tensorflow_text(world, tmp_path):
    """No Python callbacks in the graph, and the same ids in a process without keras / keras_vision."""
    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((world["path"] / "saved_model.pb").read_bytes())
    ops = set()
    for graph in (mg.graph_def for mg in proto.meta_graphs):
        ops |= {node.op for node in graph.node}
        ops |= {node.op for fn in graph.library.function for node in fn.node_def}
    assert not ops & {"PyFunc", "PyFuncStateless", "EagerPyFunc"}, sorted(ops)
    assert {"SentencepieceOp", "SentencepieceTokenizeOp"} <= ops, sorted(o for o in ops if "entence" in o)
    inputs, expected = tmp_path / "inputs.npz", tmp_path / "expected.npz"
    pixels = world["batch"]["image"]
    z = world["served"].signatures["model_encode_images"](images=tf.constant(pixels))["embeddings"].numpy()
    np.savez(inputs, **{"embed_texts/texts": np.array([c.encode() for c in CAPTIONS], dtype=object),
                        "embed_images/images": np.array(world["encoded"], dtype=object)})
    np.savez(expected, **{"embed_texts/token_ids": world["batch"]["labels"], "embed_images/embeddings": z})
    report = kv_export.run_tf_only_check(world["path"], inputs, expected, no_keras=True)
    assert report["returncode"] == 0 and report["ok"], report
    assert report["keras_imported"] is False and report["hidden_modules_imported"] == []
    assert report["parity"]["embed_texts"]["token_ids"] == "exact"
    assert report["parity"]["embed_images"]["embeddings"] <= 1e-5
