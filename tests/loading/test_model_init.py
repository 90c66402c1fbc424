"""config.model_init: start training from a big_vision .npz or a saved .keras model."""

import numpy as np
from keras import ops

from keras_vision.config import ConfigDict
from keras_vision.models import build_model as registry_build
from keras_vision.loading import model_from_config


def test_model_init_from_big_vision_npz(golden, tmp_path):
    g = golden("vit_gap_learn")
    np.savez(tmp_path / "ckpt.npz", **{k: v for k, v in g.items() if k.startswith("params/")})
    config = ConfigDict(model_name="vit", model={}, model_init=str(tmp_path / "ckpt.npz"))
    model = model_from_config(config)
    np.testing.assert_allclose(ops.convert_to_numpy(model(g["inputs/image"])), g["outputs/logits"], atol=1e-5)


def test_model_init_from_keras_file(tmp_path):
    kwargs = dict(variant="mu/8", num_classes=3, image_size=16, head_zeroinit=False)
    model = registry_build("vit", **kwargs)
    model.save(tmp_path / "m.keras")
    loaded = model_from_config(ConfigDict(model_name="vit", model=kwargs, model_init=str(tmp_path / "m.keras")))
    x = np.random.default_rng(0).normal(size=(2, 16, 16, 3)).astype("float32")
    np.testing.assert_allclose(ops.convert_to_numpy(loaded(x)), ops.convert_to_numpy(model(x)), atol=1e-6)
