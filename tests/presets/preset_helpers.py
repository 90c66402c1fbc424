"""Tiny KerasHub-style stand-ins (Backbone + ImageClassifier Task + plain model) for preset tests."""

import keras
import keras_hub
import numpy as np
from keras import layers

PACKAGE = "kv_test_presets"


@keras.saving.register_keras_serializable(package=PACKAGE)
class TinyBackbone(keras_hub.models.Backbone):
    """Patchify conv + one Dense block + mean pool: (B, 32, 32, 3) -> (B, hidden_dim)."""

    def __init__(self, image_shape=(32, 32, 3), patch_size=8, hidden_dim=32, dtype=None, **kwargs):
        inputs = keras.Input(image_shape, name="images")
        x = layers.Conv2D(hidden_dim, patch_size, strides=patch_size, name="patch")(inputs)
        x = layers.Reshape((-1, hidden_dim))(x)
        x = layers.Dense(hidden_dim, activation="gelu", name="mlp")(x)
        x = layers.GlobalAveragePooling1D()(x)
        super().__init__(inputs=inputs, outputs=x, dtype=dtype, **kwargs)
        self.image_shape, self.patch_size, self.hidden_dim = tuple(image_shape), patch_size, hidden_dim

    def get_config(self):
        config = super().get_config()
        config.update(image_shape=self.image_shape, patch_size=self.patch_size, hidden_dim=self.hidden_dim)
        return config


@keras.saving.register_keras_serializable(package=PACKAGE)
class TinyClassifier(keras_hub.models.ImageClassifier):
    backbone_cls = TinyBackbone
    preprocessor_cls = None

    def __init__(self, backbone, num_classes, preprocessor=None, **kwargs):
        self.backbone = backbone
        self.preprocessor = preprocessor
        self.head = layers.Dense(num_classes, name="head")
        inputs = backbone.input
        outputs = self.head(backbone(inputs))
        keras_hub.models.Task.__init__(self, inputs=inputs, outputs=outputs, **kwargs)
        self.num_classes = num_classes

    def get_config(self):
        config = keras_hub.models.Task.get_config(self)
        config.update(num_classes=self.num_classes)
        return config


def tiny_classifier(num_classes=4, seed=0):
    keras.utils.set_random_seed(seed)
    return TinyClassifier(TinyBackbone(), num_classes=num_classes)


def plain_model(num_classes=3):
    inputs = keras.Input((32, 32, 3))
    x = layers.Conv2D(8, 8, strides=8)(inputs)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layers.Dense(num_classes)(x), name="plain")


def weights_equal(a, b):
    wa, wb = a.get_weights(), b.get_weights()
    return len(wa) == len(wb) and all(x.dtype == y.dtype and np.array_equal(x, y) for x, y in zip(wa, wb))
