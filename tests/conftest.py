import os

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pathlib

import numpy as np
import pytest

FIXTURES = pathlib.Path(__file__).parent / "fixtures"
# Small real data (../shared/data beside the checkout, or $KERAS_VISION_SHARED_DATA).
SHARED_DATA = pathlib.Path(
    os.environ.get("KERAS_VISION_SHARED_DATA", pathlib.Path(__file__).resolve().parents[2] / "shared" / "data")
)


def shared_data(relpath):
    """Path of a file under SHARED_DATA; skips the calling test (with the path) if it is missing."""
    path = SHARED_DATA / relpath
    if not path.exists():
        pytest.skip(f"shared test data missing: {path} (set KERAS_VISION_SHARED_DATA)")
    return path


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
