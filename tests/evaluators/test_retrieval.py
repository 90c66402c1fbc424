"""Retrieval evaluator: Recall@K on embeddings with a known ranking."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_vision import evaluators
from keras_vision.evaluators.retrieval import retrieval_recalls


def test_recalls_known_ranking():
    # 3 images, 4 texts; texts 0,1 -> image 0, text 2 -> image 1, text 3 -> image 2.
    zimg = np.eye(3, dtype=np.float32)
    ztxt = np.array([[0, 1, 0], [0.9, 0.1, 0], [0, 1, 0], [0.5, 0, 0.4]], np.float32)
    r = retrieval_recalls(zimg, ztxt, [0, 0, 1, 2], ks=(1, 2))
    # img0: best text 1 (0.9) is its own -> R@1 hit; img1: best text 0/2 (tie 1.0, stable
    # order puts text 0 first) -> R@1 miss, R@2 hit; img2: best text 3 -> hit.
    assert r["img2txt/recall@1"] == pytest.approx(2 / 3)
    assert r["img2txt/recall@2"] == pytest.approx(1.0)
    # txt0 -> best image 1 (miss, image 0 second); txt1 -> image 0 hit; txt2 -> image 1 hit;
    # txt3 -> image 0 (0.5) beats image 2 (0.4): miss at 1, hit at 2.
    assert r["txt2img/recall@1"] == pytest.approx(2 / 4)
    assert r["txt2img/recall@2"] == pytest.approx(1.0)


def test_recalls_perfect_and_shape_check():
    z = np.eye(5, dtype=np.float32)
    r = retrieval_recalls(z, z, np.arange(5))
    assert r["img2txt/recall@1"] == 1.0 and r["txt2img/recall@1"] == 1.0
    with pytest.raises(ValueError, match="expected"):
        retrieval_recalls(z, z, np.arange(4))


def tokens(strings):
    return np.array([[int(x.split()[1]), int(x.endswith("good"))] for x in strings], np.int32)


class CaptionOracle(keras.Model):
    def call(self, inputs, training=False):
        out = {}
        if "image" in inputs:
            out["zimg"] = keras.ops.one_hot(keras.ops.cast(inputs["image"][:, 0, 0, 0], "int32"), 6)
        if "labels" in inputs:
            # Token 1 scales the embedding: a "good" caption beats a "bad" one on ties.
            scale = 1.0 + keras.ops.cast(inputs["labels"][:, 1:2], "float32")
            out["ztxt"] = keras.ops.one_hot(inputs["labels"][:, 0], 6) * scale
        return out


def test_evaluator_end_to_end(monkeypatch):
    ids = np.arange(6)
    images = np.zeros((6, 4, 4, 3), np.float32)
    images[:, 0, 0, 0] = ids
    texts = np.array([[f"pic {i} good", f"pic {(i + 1) % 6} bad"] for i in ids])  # 2nd is wrong
    ds = tf.data.Dataset.from_tensor_slices({"image": images, "texts": texts})
    ev = evaluators.get("retrieval")(data=ds, pp_img=None, pp_txt="unused", batch_size=4, ks=(1, 5))
    monkeypatch.setattr(ev, "tokenize", tokens)
    r = dict(ev.run(CaptionOracle()))
    assert r["img2txt/recall@1"] == 1.0  # the right caption exists for every image
    assert r["txt2img/recall@1"] == pytest.approx(0.5)  # half the captions point elsewhere
    ev1 = evaluators.get("retrieval")(data=ds, pp_img=None, pp_txt="unused", batch_size=4, text_slots=[1])
    monkeypatch.setattr(ev1, "tokenize", tokens)
    assert dict(ev1.run(CaptionOracle()))["img2txt/recall@1"] == 0.0
