"""Zero-shot classification evaluator on data with a known answer."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_vision import evaluators
from keras_vision.evaluators import zeroshot


class OracleTwoTower(keras.Model):
    """Embeds an image by the class id stored in its first pixel and a text by its
    first token, both as one-hot vectors: zero-shot is right iff the evaluator
    assembles prompts, class embeddings and argmax correctly."""

    def __init__(self, num_classes, **kw):
        super().__init__(**kw)
        self.num_classes = num_classes

    def call(self, inputs, training=False):
        out = {}
        if "image" in inputs:
            cls = keras.ops.cast(inputs["image"][:, 0, 0, 0], "int32")
            out["zimg"] = keras.ops.one_hot(cls, self.num_classes)
        if "labels" in inputs:
            out["ztxt"] = keras.ops.one_hot(inputs["labels"][:, 0], self.num_classes)
        return out


def _data(labels):
    images = np.zeros((len(labels), 4, 4, 3), np.float32)
    images[:, 0, 0, 0] = labels
    return tf.data.Dataset.from_tensor_slices({"image": images, "label": np.asarray(labels, np.int32)})


def test_class_embeddings_average_then_renormalise():
    z = np.array([[1, 0], [0, 1], [1, 0], [1, 0]], np.float32)  # class 0: two prompts; class 1: two prompts
    w = zeroshot.class_embeddings(z, 2, 2)
    np.testing.assert_allclose(w[0], [np.sqrt(0.5), np.sqrt(0.5)], atol=1e-6)
    np.testing.assert_allclose(w[1], [1, 0], atol=1e-6)


def test_zeroshot_accuracy_int_and_multihot():
    zimg = np.eye(3, dtype=np.float32)
    assert zeroshot.zeroshot_accuracy(zimg, np.eye(3), [0, 1, 1]) == pytest.approx(2 / 3)
    multi = np.array([[1, 0, 0], [0, 1, 1], [0, 0, 0]], np.float32)  # last row ignored
    assert zeroshot.zeroshot_accuracy(zimg, np.eye(3), multi) == 1.0


def test_evaluator_known_answer(monkeypatch):
    names = ["zero", "one", "two", "three"]
    labels = [0, 1, 2, 3, 3, 2, 1, 0, 2]
    ev = evaluators.get("zeroshot")(
        data=_data(labels), pp_img=None, pp_txt="unused", class_names=names,
        prompt_templates=["a {}", "the {}"], batch_size=4,
    )
    # The oracle text tower reads the first token: "tokenize" each prompt to the
    # index of its class name, except that class "three" is misspelt as class 0.
    def fake_tokenize(strings):
        ids = [names.index(s.split()[-1]) for s in strings]
        return np.array([[0 if i == 3 else i, 0] for i in ids], np.int32)

    monkeypatch.setattr(ev, "tokenize", fake_tokenize)
    result = dict(ev.run(OracleTwoTower(4)))
    # Images of class 3 (2 of 9) are predicted as the best match among classes whose
    # vector is e_3: none, so they fall to class 0 (ties -> first): wrong.
    assert result["accuracy"] == pytest.approx(7 / 9)


def test_registered_names():
    assert evaluators.get("zeroshot") is evaluators.get("discriminative_classifier")
    assert evaluators.get("proj.image_text.discriminative_classifier") is zeroshot.ZeroShotEvaluator


def test_unknown_templates_lists_known():
    with pytest.raises(ValueError, match="shapes"):
        zeroshot._as_templates("nope")
    assert "a red {}" in zeroshot.shapes_templates()
