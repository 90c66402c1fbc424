"""big_vision LR schedules vs golden schedules_mixup.npz (utils.create_learning_rate_schedule)."""

import json

import keras
import numpy as np
import pytest
from keras import ops

from keras_vision.optimizers import BigVisionSchedule
from keras_vision.optimizers import create_learning_rate_schedule
from keras_vision.optimizers import duration_to_steps

pytestmark = pytest.mark.multibackend

# meta/config: "utils.create_learning_rate_schedule (total_steps=100, base=0.001)"; the
# other arguments are in the array names. The stair golden is 1e-3 up to step 25, 1e-4
# from 30, 1e-5 from 60: boundaries [30, 60] (any of 26..30 fits; 30 is the round one).
GOLDEN_KW = {
    "cosine_warmup10": dict(decay_type="cosine", warmup_steps=10),
    "linear_warmup10": dict(decay_type="linear", warmup_steps=10),
    "rsqrt_warmup10_cooldown20": dict(decay_type="rsqrt", warmup_steps=10, cooldown_steps=20,
                                      timescale=10),
    "stair": dict(decay_type="stair", steps=[30, 60], mults=[0.1, 0.01]),
}


def _np(x):
    return np.asarray(ops.convert_to_numpy(x))


@pytest.mark.parametrize("key", sorted(GOLDEN_KW))
def test_schedule_golden(golden, key):
    g = golden("schedules_mixup")
    assert "total_steps=100, base=0.001" in json.loads(str(g["meta/config"]))["functions"][0]
    sched = create_learning_rate_schedule(total_steps=100, base=0.001, **GOLDEN_KW[key])
    got = _np(sched(ops.convert_to_tensor(g["outputs/lr/steps"])))
    np.testing.assert_allclose(got, g[f"outputs/lr/{key}"], atol=1e-5, rtol=1e-5)
    # Also per scalar step (python int), as Keras optimizers call it.
    for step, want in zip(g["outputs/lr/steps"], g[f"outputs/lr/{key}"]):
        np.testing.assert_allclose(_np(sched(int(step))), want, rtol=1e-5, atol=1e-9)


def test_first_update_has_zero_lr_with_warmup():
    sched = create_learning_rate_schedule(10, base=0.01, decay_type="cosine", warmup_steps=2)
    np.testing.assert_allclose([_np(sched(s)) for s in range(3)], [0.0, 0.005, 0.01], rtol=1e-6)


# Expected values from big_vision's own utils_test.py (total 21, batch 512, base .5 scaled
# with the batch size, warmup 5, cooldown 5).
@pytest.mark.parametrize("decay_type, kw, step, want", [
    ("linear", {}, 13, 0.5),
    ("polynomial", {"end": 0.1, "power": 2}, 13, 0.325),
    ("cosine", {}, 13, 0.5),
    ("rsqrt", {"timescale": 1}, 13, 0.3333333),
    ("stair", {"steps": [10], "mults": [0.5]}, 5, 1.0),
    ("stair", {"steps": [10], "mults": [0.5]}, 10, 0.5),
    ("rsqrt", {"timescale": 1}, 3, 0.6),
    ("rsqrt", {"timescale": 1}, 20, 0.05),
])
def test_schedule_big_vision_unit_cases(decay_type, kw, step, want):
    sched = create_learning_rate_schedule(
        total_steps=21, batch_size=512, base=0.5, decay_type=decay_type,
        scale_with_batchsize=True, warmup_steps=5, cooldown_steps=5, **kw)
    np.testing.assert_allclose(_np(sched(step)), want, rtol=1e-6)


def test_default_decay_is_constant_stair_and_linear_end():
    sched = create_learning_rate_schedule(50, base=2.0)
    np.testing.assert_allclose([_np(sched(s)) for s in (0, 25, 50)], 2.0)
    lin = create_learning_rate_schedule(10, decay_type="linear", linear_end=0.1)
    np.testing.assert_allclose([_np(lin(s)) for s in (0, 5, 10)], [1.0, 0.55, 0.1], rtol=1e-6)
    const = create_learning_rate_schedule(10, decay_type="constant", warmup_steps=4)
    np.testing.assert_allclose([_np(const(s)) for s in (0, 2, 9)], [0.0, 0.5, 1.0])


# big_vision utils_test.py `test_steps` cases: (data_size, batch_size, total, config, steps).
@pytest.mark.parametrize("data_size, batch_size, total, cfg, want", [
    (1000, None, None, {"foo_steps": 3}, 3),
    (1000, 100, None, {"foo_epochs": 3}, 30),
    (None, 100, None, {"foo_examples": 300}, 3),
    (None, None, 10, {"foo_percent": 0.30}, 3),
    (1000, 100, 10, {"foo_steps": -1, "foo_epochs": -1, "foo_examples": -1, "foo_percent": 0.3}, 3),
    (None, None, 10, {"foo_percent": 0.0}, 0),
    (1001, 100, None, {"foo_epochs": 3}, 30),
    (None, 101, None, {"foo_examples": 300}, 3),
    (None, None, 11, {"foo_percent": 0.30}, 3),
])
def test_duration_to_steps(data_size, batch_size, total, cfg, want):
    assert duration_to_steps("foo", cfg, data_size, batch_size, total) == want
    assert duration_to_steps("bar", cfg, data_size, batch_size, total, default=1234) == 1234
    with pytest.raises(ValueError, match="Cannot convert 'bar'"):
        duration_to_steps("bar", cfg, data_size, batch_size, total)


def test_warmup_percent_and_epochs():
    sched = create_learning_rate_schedule(200, decay_type="cosine", warmup_percent=0.1)
    assert sched.warmup_steps == 20
    sched = create_learning_rate_schedule(200, batch_size=10, data_size=100, warmup_epochs=2)
    assert sched.warmup_steps == 20


def test_schedule_errors():
    with pytest.raises(ValueError, match=r"Unknown decay_type 'cosin'.*'cosine'"):
        create_learning_rate_schedule(10, decay_type="cosin")
    with pytest.raises(ValueError, match=r"Unknown schedule argument\(s\) \['warmup'\].*warmup_steps"):
        create_learning_rate_schedule(10, decay_type="cosine", warmup=3)
    with pytest.raises(ValueError, match=r"\['timescale'\] for decay_type='cosine'"):
        create_learning_rate_schedule(10, decay_type="cosine", timescale=3)
    with pytest.raises(ValueError, match="warmup_steps=10 must be < total_steps=10"):
        create_learning_rate_schedule(10, warmup_steps=10)
    with pytest.raises(ValueError, match="Only one of"):
        create_learning_rate_schedule(10, warmup_steps=1, warmup_percent=0.5)
    with pytest.raises(ValueError, match="differ in length"):
        create_learning_rate_schedule(10, steps=[2, 4], mults=[0.1])


def test_schedule_as_keras_learning_rate_and_round_trip():
    sched = create_learning_rate_schedule(100, base=0.001, **GOLDEN_KW["rsqrt_warmup10_cooldown20"])
    clone = BigVisionSchedule.from_config(sched.get_config())
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(sched))
    assert isinstance(restored, BigVisionSchedule)
    for s in (0, 5, 15, 85, 100):
        np.testing.assert_allclose(_np(clone(s)), _np(sched(s)), atol=0)
        np.testing.assert_allclose(_np(restored(s)), _np(sched(s)), atol=0)
    opt = keras.optimizers.SGD(learning_rate=sched)
    np.testing.assert_allclose(_np(opt.learning_rate), 0.0)  # iteration 0: warmup starts at 0.
    opt2 = keras.optimizers.SGD.from_config(opt.get_config())
    assert isinstance(opt2._learning_rate, BigVisionSchedule)
