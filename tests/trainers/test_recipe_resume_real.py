"""Kill-and-resume on the real recipe: shapes pipeline (resumed mid-stream), mixup, dropout."""

import numpy as np
import pytest

from engine_helpers import KillAt
from engine_helpers import SimulatedKill
from keras_vision.config import load_recipe
from keras_vision.trainers import read_metrics
from keras_vision.trainers import train


@pytest.mark.slow
def test_vit_shapes_runlocal_resume_equals_uninterrupted(tmp_path):
    config = load_recipe("recipes/vit_shapes.py:runlocal", ["+mixup.p=0.5", "+model.dropout=0.1", "+tensorboard=False"])
    config.evals = {"val": config.evals.val}
    ref = train(config, tmp_path / "ref", verbose=False)
    with pytest.raises(SimulatedKill):
        train(config, tmp_path / "run", callbacks=[KillAt(15)], verbose=False)  # after ckpt 10
    resumed = train(config, tmp_path / "run", verbose=False)
    for a, b in zip(ref.model.get_weights(), resumed.model.get_weights()):
        np.testing.assert_array_equal(a, b)
    curves = lambda d: [r for r in read_metrics(d) if not r["name"].endswith("_per_sec")]  # noqa: E731
    assert curves(tmp_path / "ref") == curves(tmp_path / "run")
    assert ref.summary["evals"] == resumed.summary["evals"]
