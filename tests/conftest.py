import os

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pathlib

import numpy as np
import pytest

FIXTURES = pathlib.Path(__file__).parent / "fixtures"
SHARED_DATA = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture
def golden():
    """Loads a golden file from tests/fixtures (computed by big_vision's own code)."""

    def load(name):
        with np.load(FIXTURES / f"{name}.npz", allow_pickle=False) as f:
            return {k: f[k] for k in f.files}

    return load


@pytest.fixture(autouse=True)
def _seed():
    import keras

    keras.utils.set_random_seed(0)
    yield
