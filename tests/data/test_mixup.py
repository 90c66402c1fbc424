import numpy as np
import pytest
import tensorflow as tf

from keras_vision.data import mixup


def test_mixup_golden(golden):
    g = golden("schedules_mixup")
    a = g["outputs/mixup/a"]
    batch = {"image": g["inputs/mixup/images"], "labels": g["inputs/mixup/labels"], "id": np.arange(4)}
    out = mixup.mix(batch, a)
    np.testing.assert_allclose(out["image"].numpy(), g["outputs/mixup/images"], atol=1e-6, rtol=0)
    np.testing.assert_allclose(out["labels"].numpy(), g["outputs/mixup/labels"], atol=1e-6, rtol=0)
    np.testing.assert_array_equal(out["id"], np.arange(4))  # other keys untouched
    # The same inside a tf.data batch map.
    ds = tf.data.Dataset.from_tensors(batch).map(lambda b: mixup.mix(b, tf.constant(a)))
    got = next(iter(ds))
    np.testing.assert_allclose(got["image"].numpy(), g["outputs/mixup/images"], atol=1e-6, rtol=0)


def test_coefficient_distribution_and_determinism():
    a = np.array([mixup.sample_mixup_coefficient(0.2, [s, 1]).numpy() for s in range(300)])
    assert (a >= 0.5).all() and (a <= 1.0).all()
    # Beta(0.2, 0.2) folded to [0.5, 1]: most mass near 1 (mean of max(a, 1-a) ~ 0.88).
    assert 0.8 < a.mean() < 0.95
    b = np.array([mixup.sample_mixup_coefficient(1.0, [s, 1]).numpy() for s in range(300)])
    assert 0.68 < b.mean() < 0.82  # Beta(1,1) folded: uniform on [0.5, 1], mean 0.75
    assert (
        mixup.sample_mixup_coefficient(0.2, [7, 7]).numpy()
        == mixup.sample_mixup_coefficient(0.2, [7, 7]).numpy()
    )


def test_mixup_batch_fn_deterministic_per_step():
    images = np.random.default_rng(0).normal(size=(4, 2, 2, 3)).astype(np.float32)
    labels = np.eye(4, dtype=np.float32)
    ds = tf.data.Dataset.from_tensors({"image": images, "labels": labels}).repeat(3)
    run1 = [b for b in ds.enumerate().map(mixup.mixup_batch_fn(0.5, seed=1))]
    run2 = [b for b in ds.enumerate().map(mixup.mixup_batch_fn(0.5, seed=1))]
    resumed = [b for b in ds.take(2).enumerate(start=1).map(mixup.mixup_batch_fn(0.5, seed=1))]
    for x, y in zip(run1, run2):
        np.testing.assert_array_equal(x["image"], y["image"])
    np.testing.assert_array_equal(run1[1]["labels"], resumed[0]["labels"])
    np.testing.assert_array_equal(run1[2]["labels"], resumed[1]["labels"])
    # Labels: a on the diagonal, 1 - a on the previous example; rows still sum to 1.
    lab = run1[0]["labels"].numpy()
    a = lab[0, 0]
    assert 0.5 <= a <= 1
    np.testing.assert_allclose(lab.sum(1), 1, rtol=1e-6)
    np.testing.assert_allclose(lab[1, 0], 1 - a, rtol=1e-5)
    np.testing.assert_allclose(
        run1[0]["image"], a * images + (1 - a) * np.roll(images, 1, axis=0), rtol=1e-5, atol=1e-6
    )


def test_mixup_errors():
    with pytest.raises(TypeError, match="labels.*int32.*onehot"):
        mixup.mix({"image": np.zeros((2, 1), np.float32), "labels": np.zeros((2,), np.int32)}, 0.7)
    with pytest.raises(KeyError, match="'labels'"):
        mixup.mix({"image": np.zeros((2, 1), np.float32)}, 0.7)
