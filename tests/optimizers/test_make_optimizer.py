"""make_optimizer(config): big_vision recipe keys -> Keras optimizer; model.fit on jax and tf."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_vision import optimizers as O

pytestmark = pytest.mark.multibackend

VIT_S16_I1K = dict(  # big_vision configs/vit_s16_i1k.py optimizer keys.
    optax_name="scale_by_adam", optax=dict(mu_dtype="bfloat16"), lr=1e-3, wd=1e-4,
    grad_clip_norm=1.0, schedule=dict(warmup_steps=10_000, decay_type="cosine"))


def _np(x):
    return np.asarray(ops.convert_to_numpy(x))


def test_vit_recipe_keys():
    opt = O.make_optimizer(dict(VIT_S16_I1K, model_name="vit", loss="softmax_xent"), 90_000)
    assert isinstance(opt, O.BigVisionAdam)
    assert opt.mu_dtype == "bfloat16" and opt.epsilon == 1e-8 and opt.beta_1 == 0.9
    assert opt.weight_decay == 1e-4 and opt.global_clipnorm == 1.0
    np.testing.assert_allclose(_np(opt.learning_rate), 1e-3)
    np.testing.assert_allclose(_np(opt.schedule_values(5000)[".*"]), 0.5)
    assert opt.weight_decay_mults == [(".*/kernel$", 1.0)]


def test_optax_names_and_kwargs():
    opt = O.make_optimizer(dict(optax_name="big_vision.momentum_hp", lr=0.01, wd=None), 100)
    assert isinstance(opt, O.BigVisionMomentum) and opt.accumulator_dtype == "bfloat16"
    assert opt.weight_decay is None
    opt = O.make_optimizer(dict(optax_name="big_vision.scale_by_adafactor", lr=8e-4,
                                optax=dict(beta2_cap=0.95, dtype_momentum="float32")), 100)
    assert isinstance(opt, O.BigVisionAdafactor)
    assert opt.beta2_cap == 0.95 and opt.momentum_dtype == "float32"
    opt = O.make_optimizer(dict(optax_name="scale", optax=dict(step_size=-0.5), lr=0.1), 100)
    assert type(opt) is O.BigVisionOptimizer
    np.testing.assert_allclose(_np(opt.learning_rate), -0.05)
    opt = O.make_optimizer(dict(optax_name="scale_by_adam", optax=dict(b1=0.8, b2=0.95, eps=1e-6),
                                lr=1e-3), 100)
    assert (opt.beta_1, opt.beta_2, opt.epsilon) == (0.8, 0.95, 1e-6)


def test_schedule_lists_and_durations():
    config = dict(lr=1e-3, schedule=[
        ("img/.*", None), (".*", dict(decay_type="cosine", warmup_percent=0.1, mult=2.0))])
    opt = O.make_optimizer(config, total_steps=300)
    assert opt.schedule[0] == ("img/.*", None)
    sched = opt.schedule[1][1]
    assert isinstance(sched, O.BigVisionSchedule) and sched.warmup_steps == 30 and sched.base == 2.0
    opt = O.make_optimizer(dict(lr=1e-3, schedule=dict(warmup_epochs=1)), 300, batch_size=10,
                           data_size=50)
    assert opt.schedule[0][1].warmup_steps == 5


def test_errors_list_known_values():
    with pytest.raises(ValueError, match=r"Unknown optimizer config key\(s\) \['lr_mult'\].*'lr_mults'"):
        O.make_optimizer(dict(lr=1e-3, lr_mult=[("head/.*", 10.0)]), 10)
    with pytest.raises(ValueError, match=r"\['weight_decay'\]"):
        O.make_optimizer(dict(lr=1e-3, weight_decay=0.1), 10)
    with pytest.raises(ValueError, match=r"Unknown optax_name 'adamw'.*'scale_by_adam'"):
        O.make_optimizer(dict(lr=1e-3, optax_name="adamw"), 10)
    with pytest.raises(ValueError, match=r"Unknown `optax` argument\(s\) \['beta1'\].*'b1'"):
        O.make_optimizer(dict(lr=1e-3, optax=dict(beta1=0.9)), 10)
    with pytest.raises(ValueError, match="no `lr`"):
        O.make_optimizer(dict(wd=1e-4), 10)
    with pytest.raises(ValueError, match="freeze every parameter"):
        O.make_optimizer(dict(lr=1e-3, schedule=None), 10)
    with pytest.raises(ValueError, match=r"Unknown schedule argument\(s\) \['warmup'\]"):
        O.make_optimizer(dict(lr=1e-3, schedule=dict(warmup=10)), 100)
    with pytest.raises(ValueError, match="list of \\(regex, dict \\| None\\)"):
        O.make_optimizer(dict(lr=1e-3, schedule=["cosine"]), 100)


def _tiny_model():
    inputs = keras.Input((8,))
    x = keras.layers.Dense(16, activation="relu", name="body")(inputs)
    outputs = keras.layers.Dense(3, name="head")(x)
    return keras.Model(inputs, outputs)


def test_fit_and_save_load(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 8)).astype("float32")
    y = keras.utils.to_categorical(np.argmax(x[:, :3], axis=1), 3)
    model = _tiny_model()
    body_kernel = _np(model.get_layer("body").kernel).copy()
    opt = O.make_optimizer(dict(
        optax_name="scale_by_adam", optax=dict(mu_dtype="bfloat16"), lr=0.01, wd=1e-3,
        grad_clip_norm=1.0, schedule=[("body/.*", None),
                                      (".*", dict(decay_type="cosine", warmup_steps=2))]),
        total_steps=40)
    model.compile(optimizer=opt, loss=keras.losses.CategoricalCrossentropy(from_logits=True))
    first = model.evaluate(x, y, verbose=0)
    model.fit(x, y, batch_size=8, epochs=5, verbose=0)
    assert int(_np(opt.iterations)) == 40
    assert model.evaluate(x, y, verbose=0) < first
    # Frozen by the schedule: bit-identical after fit.
    np.testing.assert_array_equal(_np(model.get_layer("body").kernel), body_kernel)
    frozen = [d["path"] for d in opt.describe_variables() if d["frozen"]]
    assert frozen == ["body/kernel", "body/bias"]

    path = str(tmp_path / "model.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    assert type(restored.optimizer) is O.BigVisionAdam
    assert restored.optimizer.get_config() == opt.get_config()
    for a, b in zip(restored.optimizer.variables, opt.variables):
        np.testing.assert_array_equal(_np(a), _np(b))
    # Training continues identically from the restored state.
    model.fit(x[:8], y[:8], batch_size=8, epochs=1, verbose=0)
    restored.fit(x[:8], y[:8], batch_size=8, epochs=1, verbose=0)
    for a, b in zip(model.weights, restored.weights):
        np.testing.assert_allclose(_np(a), _np(b), atol=1e-6)


@pytest.mark.parametrize("cls", [O.BigVisionOptimizer, O.BigVisionMomentum, O.BigVisionAdafactor])
def test_keras_save_load_every_optimizer(tmp_path, cls):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 8)).astype("float32")
    y = rng.normal(size=(8, 3)).astype("float32")
    model = _tiny_model()
    opt = cls(learning_rate=0.01, total_steps=10, weight_decay=0.01, global_clipnorm=1.0,
              schedule=[("body/bias", None), (".*", dict(decay_type="cosine", warmup_steps=1))])
    model.compile(optimizer=opt, loss="mse")
    for _ in range(2):
        model.train_on_batch(x, y)
    path = str(tmp_path / "model.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    assert type(restored.optimizer) is cls
    assert restored.optimizer.get_config() == opt.get_config()
    assert len(restored.optimizer.variables) == len(opt.variables)
    for a, b in zip(restored.optimizer.variables, opt.variables):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(_np(a), _np(b))
