import keras
import numpy as np
import tensorflow as tf

from keras_vision import evaluators
from keras_vision.evaluators import FewShotLSREvaluator
from keras_vision.evaluators.fewshot_lsr_evaluator import BIAS_CONSTANT
from keras_vision.evaluators.fewshot_lsr_evaluator import fewshot_accuracy
from keras_vision.evaluators.fewshot_lsr_evaluator import precompute_cache

K, D = 5, 8


def _separable(n, seed):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % K
    centers = np.eye(K, D) * 4.0
    return (centers[y] + 0.3 * rng.normal(size=(n, D))).astype("float32"), y.astype("int32")


def _ds(x, y):
    return tf.data.Dataset.from_tensor_slices({"image": x, "label": y})


def _feature_model():
    """A classifier whose `pre_logits` layer passes the (separable) input features through."""
    inp = keras.Input((D,))
    pre = keras.layers.Identity(name="pre_logits")(inp)
    return keras.Model(inp, keras.layers.Dense(3, name="head")(pre))


def test_ridge_cache_equals_direct_solution_both_branches():
    rng = np.random.default_rng(0)
    for n in (40, 4):  # N >= D+1 uses eigh(XᵀX), N < D+1 eigh(XXᵀ)
        x, y = rng.normal(size=(n, D)), rng.integers(0, 3, n)
        xt, yt = rng.normal(size=(30, D)), rng.integers(0, 3, 30)
        l2 = 2.0**10
        cache = precompute_cache(x, y, 3)
        mean, std = x.mean(0), x.std(0) + 1e-5
        xb = np.pad((x - mean) / std, ((0, 0), (0, 1)), constant_values=BIAS_CONSTANT)
        w = np.linalg.solve(xb.T @ xb + l2 * np.eye(D + 1), xb.T @ (2 * np.eye(3)[y] - 1))
        xtb = np.pad((xt - mean) / std, ((0, 0), (0, 1)), constant_values=BIAS_CONSTANT)
        assert fewshot_accuracy(cache, xt, yt, l2) == np.mean((xtb @ w).argmax(1) == yt)


def test_linearly_separable_features_give_full_accuracy_and_bigvision_names():
    (xtr, ytr), (xte, yte) = _separable(200, 0), _separable(60, 1)
    ev = FewShotLSREvaluator(
        {"toy": (_ds(xtr, ytr), _ds(xte, yte))}, shots=(1, 5), num_seeds=2, batch_size=16,
        display_first=[("toy", 5)],
    )
    out = dict(ev.run(_feature_model()))
    assert set(out) == {
        "z/toy_1shot-seed-0", "z/toy_1shot-seed-1", "a/toy_5shot-seed-0", "a/toy_5shot-seed-1",
        "z/toy_1shot", "a/toy_5shot",
    }
    assert out["a/toy_5shot"] == 1.0 and out["a/toy_5shot-seed-1"] == 1.0


def test_random_labels_give_chance_accuracy():
    (xtr, _), (xte, _) = _separable(200, 0), _separable(400, 1)
    rng = np.random.default_rng(3)
    ytr, yte = rng.integers(0, K, 200).astype("int32"), rng.integers(0, K, 400).astype("int32")
    ev = FewShotLSREvaluator({"noise": (_ds(xtr, ytr), _ds(xte, yte))}, shots=(10,), num_seeds=1)
    acc = dict(ev.run(_feature_model()))["z/noise_10shot"]
    assert 0.1 < acc < 0.35  # 1/K = 0.2


def test_representation_from_backbone_dict_outputs():
    """KerasHub-style tasks: features come from `model.backbone`'s pooled output."""
    from keras_vision.evaluators.fewshot_lsr_evaluator import representation_fn

    inp = keras.Input((D,))
    backbone = keras.Model(inp, {"pre_logits": keras.layers.Identity()(inp), "tokens": keras.layers.Dense(2)(inp)})

    class Task(keras.Model):
        def __init__(self):
            super().__init__()
            self.backbone = backbone
            self.head = keras.layers.Dense(3)

        def call(self, x):
            return self.head(self.backbone(x)["pre_logits"])

    x = np.random.default_rng(0).normal(size=(4, D)).astype("float32")
    np.testing.assert_allclose(representation_fn(Task())(x), x, rtol=1e-6)
    assert evaluators.get("fewshot_lsr") is FewShotLSREvaluator
