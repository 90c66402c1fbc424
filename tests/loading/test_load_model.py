"""load_model / spec_kind: one meaning per spec, one error for an unreadable one; load_run."""

import json

import numpy as np
import pytest
from keras import ops

from keras_vision.config import ConfigDict
from keras_vision.config import load_recipe
from keras_vision.loading import ModelSpecError
from keras_vision.loading import load_model
from keras_vision.loading import model_from_config
from keras_vision.loading import spec_kind
from keras_vision.models import build_model

TINY_VIT = dict(variant="mu/8", pool_type="gap", num_classes=3, image_size=16)


def _np(x):
    return np.asarray(ops.convert_to_numpy(x))


def test_spec_kinds(tmp_path):
    model = build_model("vit", **TINY_VIT)
    model.save(tmp_path / "m.keras")
    (tmp_path / "run" / "checkpoints").mkdir(parents=True)
    (tmp_path / "run" / "config.json").write_text("{}")
    assert spec_kind(model) == "model"
    assert spec_kind(str(tmp_path / "m.keras")) == "keras"
    assert spec_kind("ckpt.npz") == spec_kind("ckpt.npz:img") == "big_vision"
    assert spec_kind(tmp_path / "run") == "run"
    assert spec_kind({"model_name": "vit", "model": TINY_VIT}) == "definition"


@pytest.mark.parametrize("bad", ["no/such/thing", "missing.keras", 3, {"model": {}}])
def test_unreadable_specs_get_one_clear_error(bad):
    with pytest.raises(ModelSpecError, match="expected a keras.Model|does not exist"):
        load_model(bad)


def test_keras_file_and_definition_specs(tmp_path):
    model = build_model("vit", **TINY_VIT)
    path = tmp_path / "m.keras"
    model.save(path)
    x = np.random.default_rng(0).uniform(-1, 1, (2, 16, 16, 3)).astype("float32")
    np.testing.assert_array_equal(_np(load_model(str(path))(x)), _np(model(x)))
    # A definition with an init is the registry model with the init's weights.
    loaded = load_model({"model_name": "vit", "model": TINY_VIT, "init": str(path)})
    np.testing.assert_array_equal(_np(loaded(x)), _np(model(x)))
    assert load_model(model) is model
    assert model_from_config(ConfigDict(model_name="vit", model=TINY_VIT, model_init=str(path))).count_params() \
        == model.count_params()


def test_training_workdir_spec_loads_its_last_checkpoint(tmp_path):
    """A tower or teacher initialised from a run directory gets its last checkpoint's weights."""
    from keras_vision.trainers import train

    config = load_recipe("recipes/vit_shapes.py:runlocal")
    config.total_steps = 4
    config.ckpt_steps = 4
    config.evals = {}
    trained = train(config, tmp_path / "run", verbose=False).model
    loaded = load_model(str(tmp_path / "run"))
    assert [w.path for w in loaded.weights] == [w.path for w in trained.weights]
    for a, b in zip(loaded.weights, trained.weights):
        np.testing.assert_array_equal(_np(a), _np(b))
    with pytest.raises(ValueError, match="no checkpoint yet"):
        (tmp_path / "empty" / "checkpoints").mkdir(parents=True)
        (tmp_path / "empty" / "config.json").write_text(json.dumps(config.to_dict()))
        load_model(str(tmp_path / "empty"))
