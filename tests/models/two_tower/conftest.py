import numpy as np
import pytest

TINY_IMAGE = dict(width=32, depth=1, mlp_dim=64, num_heads=2, patch_size=8, pool_type="map",
                  image_size=16, head_zeroinit=False)
TINY_TEXT = dict(width=32, depth=1, mlp_dim=64, num_heads=2, vocab_size=40, seq_len=6)


def tiny_two_tower(**overrides):
    from keras_vision.models import build_model

    kwargs = dict(image=TINY_IMAGE, text=TINY_TEXT, out_dim=(None, 32), temperature_init=10.0, bias_init=-10.0)
    kwargs.update(overrides)
    return build_model("proj.image_text.two_towers", **kwargs)


def tiny_batch(n=8, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "image": rng.uniform(-1, 1, size=(n, 16, 16, 3)).astype("float32"),
        "labels": rng.integers(2, 40, size=(n, 6)).astype("int32"),
    }


@pytest.fixture
def make_model():
    return tiny_two_tower


@pytest.fixture
def batch():
    return tiny_batch()


@pytest.fixture
def tiny_image_config():
    return dict(TINY_IMAGE)
