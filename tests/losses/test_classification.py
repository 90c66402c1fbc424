"""Classification losses vs big_vision goldens (losses_contrastive.npz cls/* and seq/*)."""

import numpy as np
import pytest
import keras
from keras import ops

import keras_vision.losses as L

pytestmark = pytest.mark.multibackend
ATOL = 1e-5


@pytest.fixture
def lc(golden):
    return golden("losses_contrastive")


def _np(x):
    return np.asarray(ops.convert_to_numpy(x))


def test_softmax_xent(lc):
    logits, labels = lc["outputs/cls/logits"], lc["outputs/cls/labels_onehot"]
    per_ex = L.softmax_xent(logits=logits, labels=labels, reduction=False)
    np.testing.assert_allclose(_np(per_ex), lc["outputs/cls/softmax_xent_per_example"], atol=ATOL)
    mean = L.softmax_xent(logits=logits, labels=labels)
    np.testing.assert_allclose(_np(mean), lc["outputs/cls/softmax_xent_mean"], atol=ATOL)


def test_sigmoid_xent_sums_over_classes(lc):
    logits, labels = lc["outputs/cls/logits"], lc["outputs/cls/labels_multihot"]
    per_ex = L.sigmoid_xent(logits=logits, labels=labels, reduction=False)
    np.testing.assert_allclose(_np(per_ex), lc["outputs/cls/sigmoid_xent_per_example"], atol=ATOL)
    mean = L.sigmoid_xent(logits=logits, labels=labels)
    np.testing.assert_allclose(_np(mean), lc["outputs/cls/sigmoid_xent_mean"], atol=ATOL)
    # Summing over the 5 classes, not averaging: keras' binary crossentropy is 5x smaller.
    keras_bce = keras.losses.binary_crossentropy(labels, logits, from_logits=True)
    np.testing.assert_allclose(_np(per_ex), 5 * _np(keras_bce), rtol=1e-5)


def test_softmax_xent_kl_is_kl_divergence():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(4, 7)).astype("float32")
    p = rng.dirichlet(np.ones(7), size=4).astype("float32")
    q = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    want = (p * (np.log(p) - np.log(q))).sum(-1)
    got = L.softmax_xent(logits=logits, labels=p, reduction=False, kl=True)
    np.testing.assert_allclose(_np(got), want, atol=ATOL)
    # The class axis can be any axis.
    got_t = L.softmax_xent(logits=logits.T, labels=p.T, reduction=False, kl=True, axis=0)
    np.testing.assert_allclose(_np(got_t), want, atol=ATOL)


@pytest.mark.parametrize("ls, key", [(0.0, "weighted_softmax_xent"), (0.1, "weighted_softmax_xent_ls0.1")])
def test_weighted_softmax_xent(lc, ls, key):
    got = L.weighted_softmax_xent(
        logits=lc["outputs/seq/logits"],
        labels=lc["outputs/seq/labels"],
        weights=lc["outputs/seq/weights"],
        label_smoothing=ls,
    )
    np.testing.assert_allclose(_np(got), lc[f"outputs/seq/{key}"], atol=ATOL)


def test_weighted_softmax_xent_options(lc):
    logits, labels = lc["outputs/seq/logits"], lc["outputs/seq/labels"]
    weights = lc["outputs/seq/weights"]
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    tok = -np.take_along_axis(logp, labels[..., None], -1)[..., 0]
    # No weights: mean over tokens of each sequence, then over the batch.
    np.testing.assert_allclose(
        _np(L.weighted_softmax_xent(logits=logits, labels=labels)), tok.mean(1).mean(), atol=ATOL
    )
    # normalize=False: weighted sum per sequence.
    np.testing.assert_allclose(
        _np(L.weighted_softmax_xent(logits=logits, labels=labels, weights=weights,
                                    normalize=False, reduction=False)),
        (tok * weights).sum(1), atol=ATOL)
    with pytest.raises(ValueError, match="Incorrect shapes"):
        L.weighted_softmax_xent(logits=logits, labels=labels[..., None])


def test_registry_get():
    assert L.get("softmax_xent") is L.softmax_xent
    assert L.get("sigmoid_xent") is L.sigmoid_xent
    assert L.get("weighted_softmax_xent") is L.weighted_softmax_xent
    assert L.get("dist") is L.dist
    assert L.get(L.sigmoid_xent) is L.sigmoid_xent
    with pytest.raises(ValueError, match=r"Unknown loss 'sigmoid_xnet'.*sigmoid_xent"):
        L.get("sigmoid_xnet")


def test_register_loss_refuses_silent_override():
    @L.register_loss("_test_only_loss")
    def first(logits, labels, reduction=True):
        return ops.mean(logits)

    L.register_loss("_test_only_loss")(first)  # Same function again: fine.
    assert L.get("_test_only_loss") is first
    with pytest.raises(ValueError, match="already registered"):
        L.register_loss("_test_only_loss")(lambda logits, labels: logits)


def test_big_vision_loss_wrapper(lc):
    logits, labels = lc["outputs/cls/logits"], lc["outputs/cls/labels_multihot"]
    loss = L.BigVisionLoss("sigmoid_xent")
    np.testing.assert_allclose(_np(loss(labels, logits)), lc["outputs/cls/sigmoid_xent_mean"], atol=ATOL)
    # Keras sample weights weight the per-example losses.
    w = np.array([1, 0, 0, 0, 0, 0], "float32")
    np.testing.assert_allclose(
        _np(loss(labels, logits, sample_weight=w)),
        lc["outputs/cls/sigmoid_xent_per_example"][0] / 6, atol=ATOL)
    seq = L.BigVisionLoss("weighted_softmax_xent", label_smoothing=0.1)
    # Keras casts int labels to floats; the loss casts them back to token ids.
    got = seq(lc["outputs/seq/labels"], lc["outputs/seq/logits"])
    want = L.weighted_softmax_xent(logits=lc["outputs/seq/logits"], labels=lc["outputs/seq/labels"],
                                   label_smoothing=0.1)
    np.testing.assert_allclose(_np(got), _np(want), atol=ATOL)


def test_big_vision_loss_config_round_trip(lc):
    loss = L.BigVisionLoss("softmax_xent", kl=True, name="kl_xent")
    config = loss.get_config()
    assert config["loss_name"] == "softmax_xent" and config["kl"] is True
    clone = L.BigVisionLoss.from_config(config)
    assert clone.name == "kl_xent" and clone.loss_kwargs == {"kl": True}
    restored = keras.losses.deserialize(keras.losses.serialize(loss))
    assert isinstance(restored, L.BigVisionLoss)
    logits, labels = lc["outputs/cls/logits"], lc["outputs/cls/labels_onehot"]
    np.testing.assert_allclose(_np(restored(labels, logits)), _np(loss(labels, logits)), atol=0)


def test_big_vision_loss_errors():
    with pytest.raises(ValueError, match=r"Unknown argument\(s\) \['klx'\]"):
        L.BigVisionLoss("softmax_xent", klx=True)
    with pytest.raises(ValueError, match="not a \\(prediction, target\\) pair"):
        L.BigVisionLoss("sigmoid_loss")
    with pytest.raises(ValueError, match="Unknown loss"):
        L.BigVisionLoss("nope")


def test_compile_fit_with_sigmoid_xent(tmp_path):
    x = np.random.default_rng(0).normal(size=(16, 6)).astype("float32")
    y = (x[:, :3] > 0).astype("float32")
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(3)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=L.BigVisionLoss("sigmoid_xent"))
    before = model.evaluate(x, y, verbose=0)
    np.testing.assert_allclose(
        before, _np(L.sigmoid_xent(logits=model.predict(x, verbose=0), labels=y)), rtol=1e-5)
    model.fit(x, y, epochs=5, batch_size=8, verbose=0)
    assert model.evaluate(x, y, verbose=0) < before
    path = str(tmp_path / "m.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    assert isinstance(restored.loss, L.BigVisionLoss)
    np.testing.assert_allclose(restored.evaluate(x, y, verbose=0), model.evaluate(x, y, verbose=0), rtol=1e-6)
